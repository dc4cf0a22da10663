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

/** The value as an integer count of 10^−scale units: "12.5" → { units: 125n, scale: 1 }. */
function toUnits(value: Digits): { units: bigint; scale: number } {
  const units = BigInt(value.whole + value.fraction)
  return { units: value.negative ? -units : units, scale: value.fraction.length }
}

/**
 * `part / whole × 100`, computed exactly on the digits and truncated toward zero to `places`
 * fraction digits: ("0.00031", "0.00062") → "50". Null when either is not a decimal or whole is 0.
 */
export function percentOf(part: string, whole: string, places = 0): string | null {
  const p = parseDecimal(part)
  const w = parseDecimal(whole)
  if (!p || !w || isZero(w)) return null
  const a = toUnits(p)
  const b = toUnits(w)
  // (a.units / 10^a.scale) / (b.units / 10^b.scale) × 100 × 10^places, as one integer division.
  const numerator = a.units * 10n ** BigInt(b.scale + places) * 100n
  const denominator = b.units * 10n ** BigInt(a.scale)
  const scaled = numerator / denominator // BigInt division truncates toward zero
  const negative = scaled < 0n
  const digits = (negative ? -scaled : scaled).toString().padStart(places + 1, '0')
  const cut = digits.length - places
  const text = places > 0 ? `${digits.slice(0, cut)}.${digits.slice(cut)}` : digits
  return negative ? `-${text}` : text
}
