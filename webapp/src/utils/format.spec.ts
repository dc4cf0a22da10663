import { describe, expect, it } from 'vitest'
import { percentOf } from './decimal'
import {
  formatDecimal,
  formatPercent,
  groupLabel,
  formatPnlPercent,
  formatPnlUsd,
  formatQuantity,
  formatRelativeTime,
  formatTimeframe,
  formatUsd,
  MINUS,
  NONE,
} from './format'

describe('formatDecimal', () => {
  it('trims trailing zeros and groups thousands', () => {
    expect(formatDecimal('1234567.50000')).toBe('1,234,567.5')
    expect(formatDecimal('64250.0')).toBe('64,250')
    expect(formatDecimal('100')).toBe('100')
  })

  it('keeps every digit a float would lose', () => {
    expect(formatQuantity('12345678901234.123456789012345678')).toBe('12,345,678,901,234.123456789012345678')
    expect(formatQuantity('0.00000001')).toBe('0.00000001')
  })

  it("reads Python Decimal's exponent form", () => {
    expect(formatQuantity('1E-8')).toBe('0.00000001')
    expect(formatQuantity('1.5E+3')).toBe('1,500')
    expect(formatQuantity('0E-8')).toBe('0')
  })

  it('shows null, undefined and empty as a dash', () => {
    expect(formatDecimal(null)).toBe(NONE)
    expect(formatDecimal(undefined)).toBe(NONE)
    expect(formatUsd(null)).toBe('—')
  })

  it('shows a string that is not a number as it came', () => {
    expect(formatDecimal('NaN')).toBe('NaN')
    expect(formatDecimal('12abc')).toBe('12abc')
  })

  it('uses a typographic minus for negatives and never shows −0', () => {
    expect(formatDecimal('-1234.5')).toBe(`${MINUS}1,234.5`)
    expect(formatDecimal('-0.000')).toBe('0')
  })
})

describe('formatUsd', () => {
  it('shows two decimals, rounding half away from zero without float error', () => {
    expect(formatUsd('1234.5')).toBe('1,234.50')
    expect(formatUsd('1.005')).toBe('1.01') // 1.005 as a float rounds to 1.00
    expect(formatUsd('0.994999')).toBe('0.99')
    expect(formatUsd('999.995')).toBe('1,000.00')
    expect(formatUsd('-2.675')).toBe(`${MINUS}2.68`)
  })
})

describe('formatPnlUsd', () => {
  it('signs gains with + and losses with −, with their tone', () => {
    expect(formatPnlUsd('12.3')).toEqual({ text: '+12.30', tone: 'gain' })
    expect(formatPnlUsd('-12.3')).toEqual({ text: '−12.30', tone: 'loss' })
    expect(formatPnlUsd('-1234567.891')).toEqual({ text: '−1,234,567.89', tone: 'loss' })
  })

  it('calls a value that rounds to zero flat, unsigned', () => {
    expect(formatPnlUsd('0')).toEqual({ text: '0.00', tone: 'flat' })
    expect(formatPnlUsd('-0.004')).toEqual({ text: '0.00', tone: 'flat' })
  })

  it('shows a missing PnL as a dash with no tone', () => {
    expect(formatPnlUsd(null)).toEqual({ text: '—', tone: 'none' })
  })
})

describe('formatPnlPercent', () => {
  it('adds a percent sign after the signed value', () => {
    expect(formatPnlPercent('3.256')).toEqual({ text: '+3.26%', tone: 'gain' })
    expect(formatPnlPercent('-0.5')).toEqual({ text: '−0.50%', tone: 'loss' })
    expect(formatPnlPercent(null)).toEqual({ text: '—', tone: 'none' })
  })
})

describe('formatTimeframe', () => {
  it("reads TradingView's interval codes", () => {
    expect(formatTimeframe('15')).toBe('15m')
    expect(formatTimeframe('60')).toBe('1h')
    expect(formatTimeframe('240')).toBe('4h')
    expect(formatTimeframe('90')).toBe('90m')
    expect(formatTimeframe('D')).toBe('1D')
    expect(formatTimeframe('1W')).toBe('1W')
  })
})

describe('formatRelativeTime', () => {
  const now = new Date('2026-11-21T12:00:00Z')

  it('says how long ago, in the largest whole unit', () => {
    expect(formatRelativeTime('2026-11-21T11:59:50Z', now)).toBe('just now')
    expect(formatRelativeTime('2026-11-21T11:55:00Z', now)).toBe('5 min ago')
    expect(formatRelativeTime('2026-11-21T09:00:00Z', now)).toBe('3 h ago')
    expect(formatRelativeTime('2026-11-19T12:00:00Z', now)).toBe('2 d ago')
  })

  it('falls back to the date for old or future times, and a dash for none', () => {
    expect(formatRelativeTime('2026-09-01T00:00:00Z', now)).toBe('2026-09-01')
    expect(formatRelativeTime('2026-11-21T13:00:00Z', now)).toBe('2026-11-21 13:00:00 UTC')
    expect(formatRelativeTime(null, now)).toBe('—')
  })
})

describe('percentOf', () => {
  it('divides decimal strings exactly, truncating to the places asked', () => {
    expect(percentOf('0.00031', '0.00062')).toBe('50')
    expect(percentOf('1', '3', 2)).toBe('33.33')
    expect(percentOf('2', '3', 2)).toBe('66.66')
    expect(percentOf('12345678901234567.89', '12345678901234567.89')).toBe('100')
    expect(percentOf('-1', '4', 1)).toBe('-25.0')
    expect(percentOf('1E-8', '1E-6', 0)).toBe('1')
  })

  it('is null for a zero or unreadable whole', () => {
    expect(percentOf('1', '0')).toBeNull()
    expect(percentOf('1', 'abc')).toBeNull()
  })
})

describe('formatPercent and groupLabel', () => {
  it('keeps every digit and the typographic minus', () => {
    expect(formatPercent('-1.50')).toBe('\u22121.5%')
    expect(formatPercent(null)).toBe(NONE)
  })

  it('names a group as the engine logs do', () => {
    expect(groupLabel({ symbol: 'BTCUSDT', timeframe: 60, side: 'long' })).toBe('BTCUSDT 60m long')
    expect(groupLabel({ symbol: 'ETHUSDT', timeframe: '240', side: 'short' })).toBe('ETHUSDT 240m short')
    expect(groupLabel({ symbol: 'SOLUSDT', timeframe: 'D', side: 'long' })).toBe('SOLUSDT D long')
  })

  it('formats a numeric timeframe as the engine sends it', () => {
    expect(formatTimeframe(60)).toBe('1h')
    expect(formatTimeframe(15)).toBe('15m')
  })
})
