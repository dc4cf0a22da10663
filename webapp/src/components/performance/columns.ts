import { h, type VNodeChild } from 'vue'
import type { DataTableColumns } from 'naive-ui'
import { formatWinRate } from './kpis'
import { formatPnlUsd, formatTimeframe, formatUsd } from '@/utils/format'
import type { DailySummary, SymbolBreakdown, TimeframeBreakdown } from '@/types/performance'

function pnl(value: string): VNodeChild {
  const signed = formatPnlUsd(value)
  return h('span', { class: `num tone-${signed.tone}` }, signed.text)
}

function num(text: string | number): VNodeChild {
  return h('span', { class: 'num' }, String(text))
}

type Breakdown = SymbolBreakdown | TimeframeBreakdown

function counts<T extends Breakdown | DailySummary>(): DataTableColumns<T> {
  return [
    { key: 'trades', title: 'Trades', align: 'right', render: (row) => num(row.trades) },
    { key: 'wins', title: 'Wins', align: 'right', render: (row) => num(row.wins) },
    { key: 'losses', title: 'Losses', align: 'right', render: (row) => num(row.losses) },
  ]
}

/** Per symbol or per timeframe: trades, wins, losses, win rate, realised PnL. */
export function breakdownColumns(kind: 'symbol' | 'timeframe'): DataTableColumns<Breakdown> {
  return [
    {
      key: kind,
      title: kind === 'symbol' ? 'Pair' : 'Timeframe',
      render: (row) =>
        h('strong', 'symbol' in row ? row.symbol : formatTimeframe((row as TimeframeBreakdown).timeframe)),
    },
    ...counts<Breakdown>(),
    { key: 'win_rate', title: 'Win rate', align: 'right', render: (row) => num(formatWinRate(row.win_rate)) },
    { key: 'realized', title: 'Realised (USD)', align: 'right', render: (row) => pnl(row.realized) },
  ]
}

/** One row per UTC day: trades, wins, losses, realised PnL, the day's closing equity. */
export function dailyColumns(): DataTableColumns<DailySummary> {
  return [
    { key: 'date', title: 'Day (UTC)', render: (row) => h('span', { class: 'num' }, row.date) },
    ...counts<DailySummary>(),
    { key: 'realized', title: 'Realised (USD)', align: 'right', render: (row) => pnl(row.realized) },
    { key: 'equity', title: 'Equity at close', align: 'right', render: (row) => num(formatUsd(row.equity)) },
  ]
}
