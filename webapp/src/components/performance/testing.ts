import type { Performance } from '@/types/performance'

/**
 * The engine's answer for the six hand-worked trades (+30, −10, +20, −5, +15, −10) and the
 * seven snapshots of tests/api/test_performance.py.
 */
export function makePerformance(overrides: Partial<Performance> = {}): Performance {
  return {
    range: { from: null, to: null },
    realized: { day: '0', week: '0', month: '0', all: '40' },
    trades: { count: 6, wins: 3, losses: 3, breakeven: 0, realized: '40', gross_profit: '65', gross_loss: '-25' },
    win_rate: '50',
    avg_win: '21.66666667',
    avg_loss: '-8.33333333',
    profit_factor: '2.6',
    expectancy: '6.66666667',
    sharpe: '5.6960',
    sortino: '10.8074',
    annualisation: 'sqrt(365) on daily returns',
    daily_returns: 5,
    max_drawdown_percent: '5.94059405',
    max_drawdown: {
      percent: '5.94059405',
      peak_at: '2026-03-02T23:55:00.000Z',
      peak_equity: '1010',
      trough_at: '2026-03-04T12:00:00.000Z',
      trough_equity: '950',
    },
    equity_curve: [
      { t: '2026-03-01T23:55:00.000Z', equity: '1000' },
      { t: '2026-03-02T23:55:00.000Z', equity: '1010' },
      { t: '2026-03-04T12:00:00.000Z', equity: '950' },
    ],
    distribution: [
      { bucket: '-10', to: '0', count: 3 },
      { bucket: '0', to: '10', count: 0 },
      { bucket: '10', to: '20', count: 1 },
      { bucket: '20', to: '30', count: 1 },
      { bucket: '30', to: '40', count: 1 },
    ],
    by_symbol: [
      { symbol: 'BTCUSDT', trades: 3, wins: 2, losses: 1, win_rate: '66.66666666', realized: '40' },
      { symbol: 'SOLUSDT', trades: 1, wins: 1, losses: 0, win_rate: '100', realized: '15' },
      { symbol: 'ETHUSDT', trades: 2, wins: 0, losses: 2, win_rate: '0', realized: '-15' },
    ],
    by_timeframe: [
      { timeframe: 15, trades: 3, wins: 1, losses: 2, win_rate: '33.33333333', realized: '-5' },
      { timeframe: 60, trades: 3, wins: 2, losses: 1, win_rate: '66.66666666', realized: '45' },
    ],
    daily: [
      { date: '2026-03-01', trades: 2, wins: 1, losses: 1, realized: '20', equity: '1000' },
      { date: '2026-03-02', trades: 4, wins: 2, losses: 2, realized: '20', equity: '1010' },
    ],
    allocation: {
      total_capital_usd: '10000',
      allocated_usd: '1000',
      free_usd: '9000',
      in_positions_usd: '600',
      unrealized_usd: '30',
      tvl_usd: '630',
      open_groups: 2,
    },
    generated_at: '2026-11-22T13:00:00.000Z',
    ...overrides,
  }
}
