/**
 * The mirrored settings rules, case for case with tests/unit/test_settings_domain.py: same field
 * paths, same limits, the same words in the messages.
 */
import { describe, expect, it } from 'vitest'
import { equalWeights, plainText } from './exact'
import { allowlistEntryError } from './ipRules'
import { deepClone, setAt } from './paths'
import { validateSettings, weightSum } from './rules'
import { defaultSettings } from '@/testing/settings'
import type { GridLeg } from '@/types/settings'

type Patch = (doc: Record<string, any>) => void // eslint-disable-line @typescript-eslint/no-explicit-any

/** Field errors of the defaults changed by `patch` ({} when valid). */
function errorsFor(patch: Patch): Record<string, string[]> {
  const doc = deepClone(defaultSettings()) as unknown as Record<string, unknown>
  patch(doc)
  return validateSettings(doc)
}

function legs(...rows: [string, string, string][]): GridLeg[] {
  return rows.map(([gap_percent, weight_percent, tp_percent]) => ({ gap_percent, weight_percent, tp_percent }))
}

describe('settings rules (mirror of server/domain/settings.py)', () => {
  it('accepts the defaults', () => {
    expect(validateSettings(defaultSettings())).toEqual({})
  })

  // --- grid ---------------------------------------------------------------------------------

  it('refuses leg weights summing to 99 on grid.legs, naming 99 and 100', () => {
    const errors = errorsFor((d) => (d.grid.legs[4].weight_percent = '19'))
    expect(Object.keys(errors)).toEqual(['grid.legs'])
    expect(errors['grid.legs']?.[0]).toBe(
      'leg weights sum to 99; they must sum to exactly 100 (adjust weight_percent so the legs add up to 100)',
    )
  })

  it('sums weights exactly: 33.33 + 33.33 + 33.34 is 100', () => {
    const ok = legs(['0', '33.33', '1'], ['-1', '33.33', '1'], ['-2', '33.34', '1'])
    expect(errorsFor((d) => (d.grid.legs = ok))).toEqual({})
    expect(weightSum(ok.map((l) => l.weight_percent))).toBe('100')
    expect(weightSum(['0.1', '0.2'])).toBe('0.3') // no float drift
  })

  it('refuses a positive gap on that leg, saying gaps are at most 0', () => {
    const errors = errorsFor((d) => (d.grid.legs[1].gap_percent = '0.5'))
    expect(Object.keys(errors)).toEqual(['grid.legs.1.gap_percent'])
    expect(errors['grid.legs.1.gap_percent']?.[0]).toContain('at most 0')
    expect(errors['grid.legs.1.gap_percent']?.[0]).toBe(
      'must be greater than -100 and at most 0 (a gap is 0 or negative: longs buy below the entry, ' +
        'shorts mirror it above); got 0.5',
    )
  })

  it('does not add the sum error while a leg itself is invalid (as marshmallow)', () => {
    const errors = errorsFor((d) => {
      d.grid.legs[1].gap_percent = 'abc'
      d.grid.legs[4].weight_percent = '19'
    })
    expect(Object.keys(errors)).toEqual(['grid.legs.1.gap_percent'])
    expect(errors['grid.legs.1.gap_percent']?.[0]).toBe(`must be a decimal number, e.g. "12.5", not 'abc'`)
  })

  it.each(['0', '-0.5'])('refuses a leg take-profit of %s', (tp) => {
    expect(Object.keys(errorsFor((d) => (d.grid.legs[2].tp_percent = tp)))).toEqual(['grid.legs.2.tp_percent'])
  })

  it('needs at least one leg', () => {
    expect(errorsFor((d) => (d.grid.legs = []))).toEqual({ 'grid.legs': ['a grid needs between 1 and 20 legs; got 0'] })
  })

  it('allows twenty legs, not twenty-one', () => {
    const twenty = legs(...Array.from({ length: 20 }, (_, i) => [`-${i}`, '5', '1'] as [string, string, string]))
    expect(errorsFor((d) => (d.grid.legs = twenty))).toEqual({})
    const twentyOne = [...deepClone(twenty), { gap_percent: '-30', weight_percent: '0.1', tp_percent: '1' }]
    twentyOne[0]!.weight_percent = '4.9'
    expect(errorsFor((d) => (d.grid.legs = twentyOne))).toHaveProperty('grid.legs')
  })

  it('keys symbol overrides by upper-case symbols', () => {
    const oneLeg = legs(['0', '100', '1'])
    const errors = errorsFor((d) => (d.grid.symbol_overrides = { 'btc/usdt': { legs: oneLeg } }))
    expect(Object.keys(errors)).toEqual(['grid.symbol_overrides.btc/usdt'])
    expect(errors['grid.symbol_overrides.btc/usdt']?.[0]).toContain('upper-case')
    expect(errorsFor((d) => (d.grid.symbol_overrides = { BTCUSDT: { legs: oneLeg } }))).toEqual({})
  })

  it('holds override legs to the grid rules', () => {
    const bad = legs(['0', '50', '1'], ['-1', '40', '1'])
    const errors = errorsFor((d) => (d.grid.symbol_overrides = { ETHUSDT: { legs: bad } }))
    expect(Object.keys(errors)).toEqual(['grid.symbol_overrides.ETHUSDT.legs'])
    expect(errors['grid.symbol_overrides.ETHUSDT.legs']?.[0]).toContain('90')
  })

  // --- capital ------------------------------------------------------------------------------

  it('needs as many pyramid weights as max_pyramids', () => {
    const errors = errorsFor((d) => (d.capital.max_pyramids = 3))
    expect(Object.keys(errors)).toEqual(['capital.pyramid_weights'])
    expect(errors['capital.pyramid_weights']?.[0]).toContain('has 5 weights')
    expect(errors['capital.pyramid_weights']?.[0]).toContain('max_pyramids is 3')
  })

  it('needs pyramid weights summing to 100', () => {
    const errors = errorsFor((d) => {
      d.capital.max_pyramids = 2
      d.capital.pyramid_weights = ['50', '49']
    })
    expect(errors['capital.pyramid_weights']?.[0]).toBe('pyramid weights sum to 99; they must sum to exactly 100')
    expect(errorsFor((d) => {
      d.capital.max_pyramids = 2
      d.capital.pyramid_weights = ['50', '50']
    })).toEqual({})
  })

  it('refuses a pyramid weight of 0 on that entry', () => {
    const errors = errorsFor((d) => {
      d.capital.max_pyramids = 2
      d.capital.pyramid_weights = ['100', '0']
    })
    expect(Object.keys(errors)).toEqual(['capital.pyramid_weights.1'])
  })

  it.each([0, 21])('keeps max_pyramids within 1-20 (%s)', (count) => {
    expect(errorsFor((d) => (d.capital.max_pyramids = count))).toHaveProperty(['capital.max_pyramids'])
  })

  it('splits weights equally like the server: remainder first, exactly 100', () => {
    expect(equalWeights(3)).toEqual(['33.34', '33.33', '33.33'])
    expect(equalWeights(7)).toEqual(['14.32', ...Array(6).fill('14.28')])
    for (let count = 1; count <= 20; count++) {
      const weights = equalWeights(count)
      expect(weights).toHaveLength(count)
      expect(weightSum(weights)).toBe('100')
    }
  })

  it.each([
    [0, false],
    [1001, false],
    [1, true],
    [1000, true],
  ])('keeps max_open_groups within 1-1000 (%s → %s)', (value, ok) => {
    expect(Object.keys(errorsFor((d) => (d.pool.max_open_groups = value))).length === 0).toBe(ok)
  })

  it.each(['0', '-1', -5])('needs a positive total capital (%s)', (value) => {
    expect(Object.keys(errorsFor((d) => (d.capital.total_capital_usd = value)))).toEqual(['capital.total_capital_usd'])
  })

  // --- take-profit and risk -------------------------------------------------------------------

  it.each([
    ['0', false],
    ['0.01', true],
    ['100', true],
    ['100.5', false],
  ])('tp_aggregate_percent in (0, 100] (%s → %s)', (value, ok) => {
    expect(Object.keys(errorsFor((d) => (d.take_profit.tp_aggregate_percent = value))).length === 0).toBe(ok)
  })

  it.each([
    ['0', false],
    ['-0.01', true],
    ['-100', true],
    ['-100.01', false],
    ['3', false],
  ])('loss_threshold_percent in [-100, 0) (%s → %s)', (value, ok) => {
    expect(Object.keys(errorsFor((d) => (d.risk.loss_threshold_percent = value))).length === 0).toBe(ok)
  })

  it.each([
    ['risk', 'evaluation_interval_sec'],
    ['precision', 'precision_refresh_sec'],
    ['pool', 'queue_sweep_sec'],
    ['signals', 'max_signal_age_seconds'],
    ['logs', 'audit_retention_days'],
  ])('bounds %s.%s on both sides', (section, key) => {
    expect(errorsFor((d) => (d[section][key] = 0))).toHaveProperty([`${section}.${key}`])
    expect(errorsFor((d) => (d[section][key] = 10 ** 8))).toHaveProperty([`${section}.${key}`])
  })

  it('lists the allowed values of a choice', () => {
    const errors = errorsFor((d) => (d.take_profit.tp_mode = 'trailing'))
    expect(errors['take_profit.tp_mode']?.[0]).toContain('per_leg, aggregate, hybrid')
  })

  // --- signals ------------------------------------------------------------------------------

  it('accepts addresses and networks in the allowlist', () => {
    const list = ['52.89.214.238', '10.0.0.0/8', '2001:DB8:0::1', '2001:db8::/32', '10.0.0.0/255.0.0.0']
    expect(errorsFor((d) => (d.signals.ip_allowlist = list))).toEqual({})
  })

  it('refuses bad allowlist entries one by one, suggesting the network', () => {
    const errors = errorsFor(
      (d) => (d.signals.ip_allowlist = ['1.2.3.4', '10.0.0.0/33', 'not-an-ip', '10.0.0.1/8']),
    )
    expect(Object.keys(errors).sort()).toEqual(['signals.ip_allowlist.1', 'signals.ip_allowlist.2', 'signals.ip_allowlist.3'])
    expect(errors['signals.ip_allowlist.3']?.[0]).toBe("'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?")
    expect(errors['signals.ip_allowlist.2']?.[0]).toBe("'not-an-ip' is not a valid IPv4 or IPv6 address")
    expect(allowlistEntryError('2001:db8::1/32')).toBe("'2001:db8::1/32' has host bits set; did you mean 2001:db8::/32?")
    expect(allowlistEntryError('010.0.0.1')).not.toBeNull() // leading zeros are refused, as in Python
  })

  // --- value types ----------------------------------------------------------------------------

  it.each(['NaN', 'Infinity', '-Infinity', 'abc', true, null, [1]])('refuses %s as a decimal', (value) => {
    expect(Object.keys(errorsFor((d) => (d.capital.total_capital_usd = value)))).toEqual(['capital.total_capital_usd'])
  })

  it('reads decimals as Python does: exponents, 18 places at most', () => {
    expect(errorsFor((d) => (d.take_profit.tp_aggregate_percent = '1E-8'))).toEqual({})
    expect(plainText('1E-8')).toBe('0.00000001')
    expect(plainText('2500.50')).toBe('2500.5')
    expect(errorsFor((d) => (d.take_profit.tp_aggregate_percent = '0.0000000000000000001'))).toEqual({
      'take_profit.tp_aggregate_percent': ['has more than 18 decimal places; round it'],
    })
  })

  it.each(['true', 1, 0, 'yes', null])('accepts only real booleans for flags (%s)', (value) => {
    expect(Object.keys(errorsFor((d) => (d.risk.allow_partial_offset = value)))).toEqual(['risk.allow_partial_offset'])
  })

  it.each([true, 1.5, 'ten'])('refuses %s as a whole number', (value) => {
    expect(Object.keys(errorsFor((d) => (d.pool.max_open_groups = value)))).toEqual(['pool.max_open_groups'])
  })

  it('accepts whole numbers typed as text, as the server does', () => {
    expect(errorsFor((d) => (d.pool.max_open_groups = ' 12 '))).toEqual({})
  })

  it('reports a section that is not an object on the section', () => {
    expect(errorsFor((d) => (d.grid = 5))).toEqual({ grid: ['must be a JSON object'] })
  })

  it('reports a missing key', () => {
    const doc = deepClone(defaultSettings()) as unknown as Record<string, Record<string, unknown>>
    delete doc.risk!.enabled
    expect(Object.keys(validateSettings(doc))).toEqual(['risk.enabled'])
  })

  it('sets values by path', () => {
    const doc = deepClone(defaultSettings())
    setAt(doc, 'grid.legs.2.tp_percent', '0.7')
    expect(doc.grid.legs[2]?.tp_percent).toBe('0.7')
  })
})
