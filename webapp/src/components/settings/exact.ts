/**
 * Exact decimal arithmetic on strings (BigInt underneath), enough for the settings rules: parse the
 * way Python's `Decimal(str)` does, compare, add, and print the way `plain_decimal` does. No floats,
 * so "33.33" + "33.33" + "33.34" is exactly 100 here as it is on the server.
 */

/** A finite decimal: `units × 10^−scale`. `places` = fraction digits as written (trailing zeros count). */
export interface Exact {
  units: bigint
  scale: number
  places: number
}

const NUMBER = /^([+-])?(?:(\d+(?:_\d+)*)(?:\.(\d+(?:_\d+)*)?)?|\.(\d+(?:_\d+)*))(?:[eE]([+-]?\d+(?:_\d+)*))?$/
const SPECIAL = /^[+-]?(?:nan|snan|inf|infinity)$/i

export type Parsed = { kind: 'number'; value: Exact } | { kind: 'special' } | { kind: 'invalid' }

/** Reads text as Python's `Decimal(text.strip())` would: numbers, NaN/Infinity, or nothing. */
export function parseExact(text: string): Parsed {
  const trimmed = text.trim()
  if (SPECIAL.test(trimmed)) return { kind: 'special' }
  const match = NUMBER.exec(trimmed)
  if (!match) return { kind: 'invalid' }
  const [, sign, whole = '', fractionA, fractionB, exponentText = '0'] = match
  const fraction = (fractionA ?? fractionB ?? '').replace(/_/g, '')
  const digits = whole.replace(/_/g, '') + fraction
  // Clamped: "1e999999" is out of every range anyway, and must not build a million-digit BigInt.
  const exponent = Math.max(-1000, Math.min(60, Number(exponentText.replace(/_/g, ''))))
  const places = fraction.length - exponent
  let units = BigInt(digits || '0')
  if (sign === '-') units = -units
  if (places >= 0) return { kind: 'number', value: { units, scale: places, places } }
  return { kind: 'number', value: { units: units * 10n ** BigInt(-places), scale: 0, places } }
}

export function exactOf(text: string): Exact | null {
  const parsed = parseExact(text)
  return parsed.kind === 'number' ? parsed.value : null
}

function aligned(a: Exact, b: Exact): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale)
  return [a.units * 10n ** BigInt(scale - a.scale), b.units * 10n ** BigInt(scale - b.scale), scale]
}

/** −1, 0 or 1 as a < b, a = b, a > b. */
export function compareExact(a: Exact, b: Exact): number {
  const [x, y] = aligned(a, b)
  return x < y ? -1 : x > y ? 1 : 0
}

export function addExact(a: Exact, b: Exact): Exact {
  const [x, y, scale] = aligned(a, b)
  return { units: x + y, scale, places: scale }
}

export function sumExact(values: Exact[]): Exact {
  return values.reduce(addExact, { units: 0n, scale: 0, places: 0 })
}

export function exactFromInt(value: number | bigint): Exact {
  return { units: BigInt(value), scale: 0, places: 0 }
}

/** Positional text without exponent or trailing zeros, "-" for negatives, "0" for zero (`plain_decimal`). */
export function plainExact(value: Exact): string {
  if (value.units === 0n) return '0'
  const negative = value.units < 0n
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, '0')
  const cut = digits.length - value.scale
  let text = digits.slice(0, cut)
  const fraction = digits.slice(cut).replace(/0+$/, '')
  if (fraction) text += `.${fraction}`
  return negative ? `-${text}` : text
}

/** `plainExact` of text, or the text itself when it is not a number. */
export function plainText(text: string): string {
  const value = exactOf(text)
  return value ? plainExact(value) : text
}

/**
 * `count` weights of 100/count, two decimals, summing to exactly 100, the remainder on the first
 * (the server's `equal_pyramid_weights`): 3 → ["33.34", "33.33", "33.33"].
 */
export function equalWeights(count: number): string[] {
  if (!Number.isInteger(count) || count < 1) return []
  const share = 10000n / BigInt(count) // hundredths of a percent, rounded down
  const first = 10000n - share * BigInt(count - 1)
  const text = (cents: bigint) => plainExact({ units: cents, scale: 2, places: 2 })
  return [text(first), ...Array.from({ length: count - 1 }, () => text(share))]
}
