/**
 * Decimal strings handled as digits, never through a float, so what the trader sees is what the
 * engine stored ("0.1" + rounding stays exact, 18-digit quantities keep every digit).
 */

/** A decimal as sign + digits: `whole` has no leading zeros ("0" if none), `fraction` no trailing zeros. */
export interface Digits {
  negative: boolean
  whole: string
  fraction: string
}

const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/

function normalise(negative: boolean, whole: string, fraction: string): Digits {
  const w = whole.replace(/^0+/, '') || '0'
  const f = fraction.replace(/0+$/, '')
  return { negative: negative && (w !== '0' || f !== ''), whole: w, fraction: f }
}

/** Parses `"-1234.500"`, `"+.5"`, `"1E-8"` (Python's Decimal str); null when not a decimal. */
export function parseDecimal(value: string): Digits | null {
  const match = DECIMAL.exec(value.trim())
  if (!match) return null
  const [, sign, whole = '', fraction = '', exponent = '0'] = match
  if (whole === '' && fraction === '') return null
  const digits = whole + fraction
  const point = whole.length + Number(exponent)
  if (point <= 0) return normalise(sign === '-', '0', '0'.repeat(-point) + digits)
  if (point >= digits.length) {
    return normalise(sign === '-', digits + '0'.repeat(point - digits.length), '')
  }
  return normalise(sign === '-', digits.slice(0, point), digits.slice(point))
}

/** Adds one to a string of digits: "199" → "200", "99" → "100". */
function incrementDigits(digits: string): string {
  const out = digits.split('')
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== '9') {
      out[i] = String(Number(out[i]) + 1)
      return out.join('')
    }
    out[i] = '0'
  }
  return '1' + out.join('')
}

/** Rounds to `places` fraction digits, half away from zero (1.005 → 1.01, −1.005 → −1.01). */
export function roundDigits(value: Digits, places: number): Digits {
  if (value.fraction.length <= places) return value
  const kept = value.whole + value.fraction.slice(0, places)
  const roundUp = value.fraction.charAt(places) >= '5'
  const digits = roundUp ? incrementDigits(kept) : kept
  const cut = digits.length - places
  return normalise(value.negative, digits.slice(0, cut), digits.slice(cut))
}

export function isZero(value: Digits): boolean {
  return value.whole === '0' && value.fraction === ''
}

/** "1234567" → "1,234,567". */
export function groupThousands(whole: string): string {
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}
