import { describe, expect, it } from 'vitest'
import {
  bucketLabel,
  describeRange,
  drawdownPoints,
  equityPoints,
  formatDrawdown,
  formatProfitFactor,
  formatRatio,
  formatWinRate,
  kpiCards,
  rangeFor,
  withAlpha,
} from './kpis'
import { makePerformance } from './testing'

describe('performance KPI formatting', () => {
  it('shows the six hand-worked trades as the engine sent them', () => {
    // +30 −10 +20 −5 +15 −10: win rate 50 %, avg win 21.67, avg loss −8.33, PF 2.6, E 6.67.
    const cards = Object.fromEntries(kpiCards(makePerformance()).map((card) => [card.key, card]))

    expect(cards['win-rate']).toMatchObject({ value: '50.0%', hint: '3 of 6 trades' })
    expect(cards['profit-factor']?.value).toBe('2.60')
    expect(cards['expectancy']).toMatchObject({ value: '+6.67', tone: 'gain' })
    expect(cards['avg-win']?.value).toBe('+21.67')
    expect(cards['avg-loss']).toMatchObject({ value: '\u22128.33', tone: 'loss' })
    expect(cards['realized-all']).toMatchObject({ value: '+40.00', tone: 'gain' })
    expect(cards['sharpe']).toMatchObject({ value: '5.70' })
    expect(cards['sharpe']?.hint).toContain('annualised √365 on daily returns')
    expect(cards['sortino']).toMatchObject({ value: '10.81', hint: 'annualised √365 on daily returns' })
    expect(cards['max-drawdown']).toMatchObject({
      value: '\u22125.94%',
      tone: 'loss',
      hint: '2026-03-02 23:55 → 2026-03-04 12:00 UTC',
    })
  })

  it('profit factor is ∞ with wins and no loss, — without trades', () => {
    expect(formatProfitFactor(null, 3, 0)).toBe('∞')
    expect(formatProfitFactor(null, 0, 0)).toBe('—')
    expect(formatProfitFactor('0', 0, 2)).toBe('0.00')
    expect(formatProfitFactor('2.6', 3, 3)).toBe('2.60')
  })

  it('formats ratios, win rates and drawdowns from their decimal strings', () => {
    expect(formatRatio('5.6960')).toBe('5.70')
    expect(formatRatio('-0.0050')).toBe('\u22120.01')
    expect(formatRatio(null)).toBe('—')
    expect(formatWinRate('66.66666666')).toBe('66.7%')
    expect(formatWinRate(null)).toBe('—')
    expect(formatDrawdown('5.94059405')).toBe('\u22125.94%')
    expect(formatDrawdown('0')).toBe('0.00%')
    expect(formatDrawdown(null)).toBe('—')
  })

  it('a new account shows dashes, not zeros, for what cannot be computed yet', () => {
    const empty = makePerformance({
      trades: { count: 0, wins: 0, losses: 0, breakeven: 0, realized: '0', gross_profit: '0', gross_loss: '0' },
      win_rate: null,
      avg_win: null,
      avg_loss: null,
      profit_factor: null,
      expectancy: null,
      sharpe: null,
      sortino: null,
      daily_returns: 0,
      max_drawdown_percent: null,
      max_drawdown: { percent: null, peak_at: null, peak_equity: null, trough_at: null, trough_equity: null },
      realized: { day: '0', week: '0', month: '0', all: '0' },
    })
    const cards = Object.fromEntries(kpiCards(empty).map((card) => [card.key, card]))
    expect(cards['win-rate']?.value).toBe('—')
    expect(cards['profit-factor']?.value).toBe('—')
    expect(cards['sharpe']?.hint).toContain('0 daily returns')
    expect(cards['max-drawdown']).toMatchObject({ value: '—', tone: 'none', hint: 'no decline yet' })
    expect(cards['realized-day']).toMatchObject({ value: '0.00', tone: 'flat' })
  })
})

describe('performance ranges', () => {
  const today = new Date('2026-11-22T13:00:00Z')

  it('presets are whole UTC days ending today', () => {
    expect(rangeFor('7d', today)).toEqual({ from: '2026-11-16', to: '2026-11-22' })
    expect(rangeFor('30d', today)).toEqual({ from: '2026-10-24', to: '2026-11-22' })
    expect(rangeFor('90d', today)).toEqual({ from: '2026-08-25', to: '2026-11-22' })
    expect(rangeFor('1y', today)).toEqual({ from: '2025-11-23', to: '2026-11-22' })
    expect(rangeFor('all', today)).toEqual({ from: null, to: null })
    expect(rangeFor('custom', today, { from: '2026-01-01', to: '2026-01-31' })).toEqual({
      from: '2026-01-01',
      to: '2026-01-31',
    })
  })

  it('takes the UTC day even late in the evening elsewhere', () => {
    expect(rangeFor('7d', new Date('2026-11-22T23:30:00-05:00'))).toEqual({ from: '2026-11-17', to: '2026-11-23' })
  })

  it('describes a range', () => {
    expect(describeRange({ from: '2026-03-01', to: '2026-03-31' })).toBe('2026-03-01 → 2026-03-31')
    expect(describeRange({ from: '2026-03-02', to: '2026-03-02' })).toBe('2026-03-02')
    expect(describeRange({ from: '2026-03-01', to: null })).toBe('since 2026-03-01')
    expect(describeRange({ from: null, to: null })).toBe('all time')
  })
})

describe('chart helpers', () => {
  const curve = [
    { t: '2026-03-01T00:00:00.000Z', equity: '100' },
    { t: '2026-03-01T01:00:00.000Z', equity: '120' },
    { t: '2026-03-01T02:00:00.000Z', equity: '90' },
    { t: '2026-03-01T03:00:00.000Z', equity: '130' },
  ]

  it('drawdown is the percent below the highest equity so far', () => {
    expect(drawdownPoints(curve).map((p) => p.value)).toEqual([0, 0, -25, 0])
    expect(equityPoints(curve)[1]).toEqual({ time: Date.parse('2026-03-01T01:00:00Z') / 1000, value: 120 })
  })

  it('keeps chart times strictly rising (two points in one second → the later one)', () => {
    const points = equityPoints([
      { t: '2026-03-01T00:00:00.100Z', equity: '1' },
      { t: '2026-03-01T00:00:00.900Z', equity: '2' },
      { t: '2026-03-01T00:00:01.000Z', equity: '3' },
    ])
    expect(points.map((p) => p.value)).toEqual([2, 3])
  })

  it('labels buckets and makes fills translucent', () => {
    expect(bucketLabel({ bucket: '-10', to: '0' })).toBe('\u221210 to 0')
    expect(withAlpha('#e88080', 0.5)).toBe('rgba(232, 128, 128, 0.5)')
    expect(withAlpha('#fff', 0.1)).toBe('rgba(255, 255, 255, 0.1)')
    expect(withAlpha('rgba(1, 2, 3, 0.9)', 0.2)).toBe('rgba(1, 2, 3, 0.2)')
  })
})
