/** Display formatting for traders. Decimal strings are never converted through a float. */
import { groupThousands, isZero, parseDecimal, roundDigits, type Digits } from './decimal'

/** Shown for a missing value (null: nothing filled yet, no price, …). */
export const NONE = '—'
/** Typographic minus (U+2212), the same width as "+". */
export const MINUS = '\u2212'

type Maybe<T> = T | null | undefined

export interface DecimalFormat {
  /** Round (half away from zero) to at most this many fraction digits; default: keep every digit. */
  maxFraction?: number
  /** Pad with zeros to at least this many fraction digits; default 0 (trailing zeros trimmed). */
  minFraction?: number
  /** Prefix "+" on values above zero (PnL). */
  signed?: boolean
}

/** Whether a value is a gain, a loss, exactly zero as shown, or missing. */
export type Tone = 'gain' | 'loss' | 'flat' | 'none'

export interface SignedText {
  text: string
  tone: Tone
}

function render(value: Digits, options: DecimalFormat): string {
  const fraction = value.fraction.padEnd(options.minFraction ?? 0, '0')
  const body = groupThousands(value.whole) + (fraction ? `.${fraction}` : '')
  if (value.negative) return MINUS + body
  return options.signed && !isZero(value) ? `+${body}` : body
}

function shown(value: string, options: DecimalFormat): Digits | null {
  const parsed = parseDecimal(value)
  if (!parsed) return null
  return options.maxFraction === undefined ? parsed : roundDigits(parsed, options.maxFraction)
}

/** "1234567.50000" → "1,234,567.5"; null → "—"; a non-number string is shown as it came. */
export function formatDecimal(value: Maybe<string>, options: DecimalFormat = {}): string {
  if (value === null || value === undefined || value === '') return NONE
  const digits = shown(value, options)
  return digits ? render(digits, options) : value
}

/** A signed amount with its tone, the tone taken from the value as shown ("−0.001" → "0.00", flat). */
export function formatSigned(value: Maybe<string>, options: DecimalFormat = {}): SignedText {
  if (value === null || value === undefined || value === '') return { text: NONE, tone: 'none' }
  const digits = shown(value, options)
  if (!digits) return { text: value, tone: 'none' }
  const tone: Tone = isZero(digits) ? 'flat' : digits.negative ? 'loss' : 'gain'
  return { text: render(digits, { ...options, signed: true }), tone }
}

/** Prices and quantities: every digit the engine holds, trailing zeros trimmed. */
export function formatQuantity(value: Maybe<string>): string {
  return formatDecimal(value)
}

/** USD amounts: two decimals. "1234.5" → "1,234.50". */
export function formatUsd(value: Maybe<string>): string {
  return formatDecimal(value, { maxFraction: 2, minFraction: 2 })
}

/** PnL in USD: "+1,234.50", "−12.30", "0.00". */
export function formatPnlUsd(value: Maybe<string>): SignedText {
  return formatSigned(value, { maxFraction: 2, minFraction: 2 })
}

/** PnL in percent: "+3.25%", "−0.50%". */
export function formatPnlPercent(value: Maybe<string>): SignedText {
  const signed = formatSigned(value, { maxFraction: 2, minFraction: 2 })
  return signed.tone === 'none' ? signed : { ...signed, text: `${signed.text}%` }
}

/** TradingView intervals: "15" → "15m", "240" → "4h", "D" → "1D"; anything else as it came. */
export function formatTimeframe(value: string | number): string {
  const timeframe = String(value)
  if (/^\d+$/.test(timeframe)) {
    const minutes = Number(timeframe)
    return minutes >= 60 && minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`
  }
  if (/^[DWM]$/.test(timeframe)) return `1${timeframe}`
  return timeframe
}

/** Percentages as configured ("-1.5" → "−1.5%"), every digit kept; null → "—". */
export function formatPercent(value: Maybe<string>): string {
  const text = formatDecimal(value)
  return text === NONE ? NONE : `${text}%`
}

/**
 * A group as the engine's log lines name it: "BTCUSDT 60m long" (the timeframe in minutes,
 * as in "BTCUSDT 60m long: pyramid 2 placed").
 */
export function groupLabel(group: { symbol: string; timeframe: string | number; side: string }): string {
  const timeframe = String(group.timeframe)
  return `${group.symbol} ${/^\d+$/.test(timeframe) ? `${timeframe}m` : timeframe} ${group.side}`
}

const MINUTE = 60
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** "just now", "5 min ago", "3 h ago", "2 d ago"; older than 30 days (or unreadable): the date. */
export function formatRelativeTime(iso: Maybe<string>, now: Date = new Date()): string {
  if (!iso) return NONE
  const time = new Date(iso)
  if (Number.isNaN(time.getTime())) return iso
  const seconds = Math.round((now.getTime() - time.getTime()) / 1000)
  if (seconds < 45 && seconds > -60) return 'just now'
  if (seconds < 0) return formatDateTime(iso)
  if (seconds < HOUR) return `${Math.max(1, Math.round(seconds / MINUTE))} min ago`
  if (seconds < DAY) return `${Math.floor(seconds / HOUR)} h ago`
  if (seconds < 30 * DAY) return `${Math.floor(seconds / DAY)} d ago`
  return time.toISOString().slice(0, 10)
}

/** "2026-11-21 10:15:00 UTC" — the exact time, for tooltips. */
export function formatDateTime(iso: Maybe<string>): string {
  if (!iso) return NONE
  const time = new Date(iso)
  if (Number.isNaN(time.getTime())) return iso
  return `${time.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}
