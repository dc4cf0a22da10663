/**
 * What the performance page shows, computed from the engine's answer: KPI cards, the range of a
 * preset, the drawdown series under the equity curve. Figures are formatted from their decimal
 * strings (never through a float); only chart coordinates are numbers.
 */
import { formatDecimal, formatPnlUsd, NONE, MINUS, type Tone } from '@/utils/format'
import type { DayRange, EquityPoint, IsoDate, Performance, RangePreset } from '@/types/performance'

/** How Sharpe and Sortino are annualised, as the page states it. */
export const ANNUALISATION_NOTE = 'annualised √365 on daily returns'

/** Days (today included) each preset covers; `all` and `custom` have none. */
export const PRESET_DAYS: Readonly<Record<Exclude<RangePreset, 'all' | 'custom'>, number>> = {
  '7d': 7,
  '30d': 30,
  '90d': 90,
  '1y': 365,
}

export const PRESETS: readonly { value: RangePreset; label: string }[] = [
  { value: '7d', label: '7D' },
  { value: '30d', label: '30D' },
  { value: '90d', label: '90D' },
  { value: '1y', label: '1Y' },
  { value: 'all', label: 'All' },
  { value: 'custom', label: 'Custom' },
]

/** The UTC calendar day of a moment, `YYYY-MM-DD`. */
export function utcDay(moment: Date): IsoDate {
  return moment.toISOString().slice(0, 10)
}

/** The whole UTC days a preset covers, ending today (UTC); `custom` is the chosen range. */
export function rangeFor(preset: RangePreset, today: Date, custom: DayRange = { from: null, to: null }): DayRange {
  if (preset === 'all') return { from: null, to: null }
  if (preset === 'custom') return { ...custom }
  const first = new Date(today.getTime() - (PRESET_DAYS[preset] - 1) * 86_400_000)
  return { from: utcDay(first), to: utcDay(today) }
}

/** "2026-03-01 → 2026-03-31", "since 2026-03-01", "until …", "all time". */
export function describeRange(range: DayRange): string {
  if (range.from && range.to) return range.from === range.to ? range.from : `${range.from} → ${range.to}`
  if (range.from) return `since ${range.from}`
  if (range.to) return `until ${range.to}`
  return 'all time'
}

/** Sharpe / Sortino: two decimals; null (too few days, no variation) → "—". */
export function formatRatio(value: string | null): string {
  return formatDecimal(value, { maxFraction: 2, minFraction: 2 })
}

/** Profit factor: "2.60"; "∞" when there are wins and no loss; "—" without trades. */
export function formatProfitFactor(value: string | null, wins: number, losses: number): string {
  if (value === null) return wins > 0 && losses === 0 ? '∞' : NONE
  return formatDecimal(value, { maxFraction: 2, minFraction: 2 })
}

/** Win rate: "50.0%"; null → "—". */
export function formatWinRate(value: string | null): string {
  const text = formatDecimal(value, { maxFraction: 1, minFraction: 1 })
  return text === NONE ? NONE : `${text}%`
}

/** Max drawdown as a decline: "−5.94%"; none → "—"; exactly 0 → "0.00%". */
export function formatDrawdown(percent: string | null): string {
  if (percent === null) return NONE
  const text = formatDecimal(percent, { maxFraction: 2, minFraction: 2 })
  return text === '0.00' ? '0.00%' : `${MINUS}${text}%`
}

/** "2026-03-02 23:55" (UTC) for the drawdown's dates. */
export function shortUtc(iso: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : NONE
}

export interface Kpi {
  key: string
  label: string
  value: string
  tone: Tone
  /** A second line: what the figure rests on. */
  hint?: string
}

function usd(key: string, label: string, value: string | null, hint?: string): Kpi {
  const signed = formatPnlUsd(value)
  return { key, label, value: signed.text, tone: signed.tone, hint }
}

function plain(key: string, label: string, value: string, hint?: string): Kpi {
  return { key, label, value, tone: value === NONE ? 'none' : 'flat', hint }
}

/** The KPI cards, in reading order. */
export function kpiCards(data: Performance): Kpi[] {
  const t = data.trades
  const dd = data.max_drawdown
  const ddDates = dd.peak_at ? `${shortUtc(dd.peak_at)} → ${shortUtc(dd.trough_at)} UTC` : 'no decline yet'
  const days = data.daily_returns === 1 ? '1 daily return' : `${data.daily_returns} daily returns`
  return [
    usd('realized-day', 'Realised today', data.realized.day, 'UTC day'),
    usd('realized-week', 'This week', data.realized.week, 'since Monday 00:00 UTC'),
    usd('realized-month', 'This month', data.realized.month, 'since the 1st, UTC'),
    usd('realized-all', 'All time', data.realized.all, 'net of fees'),
    plain('win-rate', 'Win rate', formatWinRate(data.win_rate), `${t.wins} of ${t.count} trades`),
    plain(
      'profit-factor',
      'Profit factor',
      formatProfitFactor(data.profit_factor, t.wins, t.losses),
      'gross wins ÷ gross losses',
    ),
    usd('expectancy', 'Expectancy', data.expectancy, 'mean PnL per trade'),
    usd('avg-win', 'Average win', data.avg_win, `${t.wins} winning trades`),
    usd('avg-loss', 'Average loss', data.avg_loss, `${t.losses} losing trades`),
    plain('sharpe', 'Sharpe', formatRatio(data.sharpe), `${ANNUALISATION_NOTE} (${days})`),
    plain('sortino', 'Sortino', formatRatio(data.sortino), ANNUALISATION_NOTE),
    {
      key: 'max-drawdown',
      label: 'Max drawdown',
      value: formatDrawdown(dd.percent),
      tone: dd.percent === null ? 'none' : 'loss',
      hint: ddDates,
    },
  ]
}

/** Chart coordinates: seconds since the epoch and a number (the chart library draws floats). */
export interface ChartPoint {
  time: number
  value: number
}

/** The equity curve as chart points, one per second at most (the chart wants rising times). */
export function equityPoints(curve: readonly EquityPoint[]): ChartPoint[] {
  const points: ChartPoint[] = []
  for (const p of curve) {
    const point = { time: Math.floor(Date.parse(p.t) / 1000), value: Number(p.equity) }
    const last = points[points.length - 1]
    if (last && last.time >= point.time) points[points.length - 1] = { ...point, time: last.time }
    else points.push(point)
  }
  return points
}

/**
 * How far each point is below the highest equity before it, in percent (≤ 0): the shaded
 * drawdown under the curve. Drawn only, so a float is enough; the KPI uses the engine's figure.
 */
export function drawdownPoints(curve: readonly EquityPoint[]): ChartPoint[] {
  let peak = -Infinity
  return equityPoints(curve).map(({ time, value }) => {
    peak = Math.max(peak, value)
    const below = peak > 0 ? ((value - peak) / peak) * 100 : 0
    return { time, value: Math.round(below * 1e4) / 1e4 || 0 }
  })
}

/** A histogram bucket's label: "−10 to 0". */
export function bucketLabel(bucket: { bucket: string; to: string }): string {
  return `${formatDecimal(bucket.bucket)} to ${formatDecimal(bucket.to)}`
}

/** A theme colour (#rgb, #rrggbb, rgb() or rgba()) at `alpha` opacity, for chart fills. */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})([0-9a-f]{2})?$/i.exec(color.trim())
  if (hex) {
    const digits = hex[1] ?? ''
    const full = digits.length === 3 ? digits.replace(/./g, (d) => d + d) : digits
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16))
    return `rgba(${r}, ${g}, ${b}, ${alpha})`
  }
  const rgb = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(color.trim())
  return rgb ? `rgba(${rgb[1]}, ${rgb[2]}, ${rgb[3]}, ${alpha})` : color
}
