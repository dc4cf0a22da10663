import type { DecimalString, IsoTime } from './common'

/** A UTC calendar day, `YYYY-MM-DD`. */
export type IsoDate = string

/** Per symbol or per timeframe: the closed trades of the range. */
export interface TradeBreakdown {
  trades: number
  wins: number
  losses: number
  /** Percent of trades won; null without trades. */
  win_rate: DecimalString | null
  realized: DecimalString
}

export interface SymbolBreakdown extends TradeBreakdown {
  symbol: string
}

export interface TimeframeBreakdown extends TradeBreakdown {
  /** Minutes, as the engine stores them. */
  timeframe: number
}

/** One UTC day of the range: its closed trades and its last equity snapshot. */
export interface DailySummary {
  date: IsoDate
  trades: number
  wins: number
  losses: number
  realized: DecimalString
  /** The day's last snapshot; null when none was taken that day. */
  equity: DecimalString | null
}

/** Trades with `bucket ≤ PnL < to` (USD). */
export interface DistributionBucket {
  bucket: DecimalString
  to: DecimalString
  count: number
}

export interface EquityPoint {
  t: IsoTime
  equity: DecimalString
}

export interface MaxDrawdown {
  percent: DecimalString | null
  peak_at: IsoTime | null
  peak_equity: DecimalString | null
  trough_at: IsoTime | null
  trough_equity: DecimalString | null
}

/** Capital now: the grids of open groups, what is free, what is in positions, their value. */
export interface CapitalAllocation {
  total_capital_usd: DecimalString
  allocated_usd: DecimalString
  free_usd: DecimalString
  in_positions_usd: DecimalString
  unrealized_usd: DecimalString
  /** Market value of the open positions (cost + unrealised). */
  tvl_usd: DecimalString
  open_groups: number
}

/** `GET /api/performance` (API.md, plus sortino, expectancy, max_drawdown, annualisation). */
export interface Performance {
  range: { from: IsoDate | null; to: IsoDate | null }
  /** UTC day, ISO week (from Monday), month and all time, whatever the range. */
  realized: { day: DecimalString; week: DecimalString; month: DecimalString; all: DecimalString }
  trades: {
    count: number
    wins: number
    losses: number
    breakeven: number
    realized: DecimalString
    gross_profit: DecimalString
    gross_loss: DecimalString
  }
  win_rate: DecimalString | null
  avg_win: DecimalString | null
  avg_loss: DecimalString | null
  /** Null when no trade lost (∞) or there is no trade. */
  profit_factor: DecimalString | null
  expectancy: DecimalString | null
  sharpe: DecimalString | null
  sortino: DecimalString | null
  /** "sqrt(365) on daily returns". */
  annualisation: string
  daily_returns: number
  max_drawdown_percent: DecimalString | null
  max_drawdown: MaxDrawdown
  equity_curve: EquityPoint[]
  distribution: DistributionBucket[]
  by_symbol: SymbolBreakdown[]
  by_timeframe: TimeframeBreakdown[]
  daily: DailySummary[]
  allocation: CapitalAllocation
  generated_at: IsoTime
}

/** The range picker's presets; `custom` uses the chosen dates. */
export type RangePreset = '7d' | '30d' | '90d' | '1y' | 'all' | 'custom'

/** Whole UTC days, both inclusive; null = open. */
export interface DayRange {
  from: IsoDate | null
  to: IsoDate | null
}
