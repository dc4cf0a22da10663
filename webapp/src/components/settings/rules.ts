/**
 * The settings rules of `server/domain/settings.py` and `settings_fields.py`, mirrored so the page
 * can say what is wrong while the trader types. Same field paths, same limits, same messages; the
 * server stays authoritative (its `error.fields` are shown too, see the settings store).
 *
 * Like marshmallow, a list's own rule (legs summing to 100, pyramid weights matching max_pyramids)
 * is checked only when every item in it is valid.
 */
import { allowlistEntryError } from './ipRules'
import { compareExact, exactFromInt, parseExact, plainExact, sumExact, type Exact } from './exact'
import type { FieldErrors } from '@/types/settings'

export const MAX_LEGS = 20
export const MAX_PYRAMIDS = 20
export const MAX_SYMBOL_OVERRIDES = 500
export const MAX_ALLOWLIST_ENTRIES = 200
export const SYMBOL_RE = /^[A-Z0-9]{2,20}$/

export const MESSAGES = {
  required: 'is missing; give a value (GET /api/settings shows the current ones)',
  null: 'may not be null; give a value',
  object: 'must be a JSON object',
  legsList: 'must be a list of legs, each with gap_percent, weight_percent and tp_percent',
  weightsList: 'must be a list of weights, e.g. ["50", "50"]',
  symbol:
    'symbol must be 2-20 upper-case letters or digits with no separator, as the exchange writes it, e.g. BTCUSDT',
  overridesObject: 'must be an object keyed by symbol, e.g. {"BTCUSDT": {"legs": [...]}}',
  allowlistList: 'must be a list of addresses or networks, e.g. ["52.89.214.238", "10.0.0.0/8"]',
} as const

export interface DecimalRule {
  kind: 'decimal'
  min?: string
  max?: string
  minExclusive?: boolean
  maxExclusive?: boolean
  hint?: string
}
export interface IntRule {
  kind: 'int'
  min: number
  max: number
  hint?: string
}
export interface BoolRule {
  kind: 'bool'
}
export interface ChoiceRule {
  kind: 'choice'
  options: readonly string[]
}
export type FieldRule = DecimalRule | IntRule | BoolRule | ChoiceRule

const ONE_WEEK = ' (one week)'
const GAP_HINT = ' (a gap is 0 or negative: longs buy below the entry, shorts mirror it above)'
const positivePercent: DecimalRule = { kind: 'decimal', min: '0', max: '100', minExclusive: true }

export const LEG_RULES: Record<'gap_percent' | 'weight_percent' | 'tp_percent', DecimalRule> = {
  gap_percent: { kind: 'decimal', min: '-100', max: '0', minExclusive: true, hint: GAP_HINT },
  weight_percent: positivePercent,
  tp_percent: positivePercent,
}

export const PYRAMID_WEIGHT_RULE: DecimalRule = positivePercent

/** The scalar fields of every section (lists and maps are checked by their own functions below). */
export const FIELD_RULES = {
  precision: {
    precision_refresh_sec: { kind: 'int', min: 5, max: 86400 },
    min_notional_policy: { kind: 'choice', options: ['reject', 'bump'] },
    precision_hold_seconds: { kind: 'int', min: 1, max: 3600 },
  },
  pool: {
    max_open_groups: { kind: 'int', min: 1, max: 1000 },
    count_pyramids_toward_pool: { kind: 'bool' },
    queue_max_age_minutes: { kind: 'int', min: 1, max: 10080, hint: ONE_WEEK },
    promotion_anchor: { kind: 'choice', options: ['market', 'signal'] },
    queue_sweep_sec: { kind: 'int', min: 1, max: 3600 },
  },
  capital: {
    total_capital_usd: { kind: 'decimal', min: '0', max: '1000000000000', minExclusive: true },
    max_pyramids: { kind: 'int', min: 1, max: MAX_PYRAMIDS },
  },
  grid: {
    entry_order_type: { kind: 'choice', options: ['market', 'limit'] },
  },
  take_profit: {
    tp_mode: { kind: 'choice', options: ['per_leg', 'aggregate', 'hybrid'] },
    tp_aggregate_percent: positivePercent,
  },
  risk: {
    enabled: { kind: 'bool' },
    loss_threshold_percent: { kind: 'decimal', min: '-100', max: '0', maxExclusive: true },
    require_full_pyramids: { kind: 'bool' },
    timer_start_condition: {
      kind: 'choice',
      options: ['after_max_pyramids', 'after_all_dca_submitted', 'after_all_dca_filled'],
    },
    post_full_wait_minutes: { kind: 'int', min: 0, max: 10080, hint: ONE_WEEK },
    min_age_minutes: { kind: 'int', min: 0, max: 43200, hint: ' (30 days; 0 turns the age filter off)' },
    max_winners_to_combine: { kind: 'int', min: 1, max: 20 },
    allow_partial_offset: { kind: 'bool' },
    evaluation_interval_sec: { kind: 'int', min: 5, max: 86400 },
  },
  signals: {
    max_signal_age_seconds: { kind: 'int', min: 1, max: 86400 },
    use_tradingview_preset: { kind: 'bool' },
  },
  logs: {
    system_retention_days: { kind: 'int', min: 1, max: 3650 },
    audit_retention_days: { kind: 'int', min: 1, max: 3650 },
  },
  ui: {
    theme: { kind: 'choice', options: ['dark', 'light'] },
  },
} as const satisfies Record<string, Record<string, FieldRule>>

export const SECTIONS = Object.keys(FIELD_RULES) as (keyof typeof FIELD_RULES)[]

// ---- Python's repr, for the messages that quote the value -----------------------------------

function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  if (typeof value === 'string') {
    return value.includes("'") && !value.includes('"')
      ? `"${value}"`
      : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
  }
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value)
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`
  return String(value)
}

// ---- one value --------------------------------------------------------------------------------

class Invalid extends Error {}

function rangeText(rule: DecimalRule): string {
  const parts: string[] = []
  if (rule.min !== undefined) parts.push(`${rule.minExclusive ? 'greater than' : 'at least'} ${rule.min}`)
  if (rule.max !== undefined) parts.push(`${rule.maxExclusive ? 'less than' : 'at most'} ${rule.max}`)
  return parts.join(' and ')
}

/** The decimal a field holds, or an `Invalid` with the server's message. */
function loadDecimal(value: unknown, rule: DecimalRule): Exact {
  if (value === undefined) throw new Invalid(MESSAGES.required)
  if (value === null) throw new Invalid(MESSAGES.null)
  if (typeof value === 'boolean' || (typeof value !== 'string' && typeof value !== 'number')) {
    throw new Invalid('must be a decimal number, e.g. "12.5"')
  }
  if (typeof value === 'string' && value.length > 40) {
    throw new Invalid('is too long for a number (at most 40 characters)')
  }
  const parsed = parseExact(String(value))
  if (parsed.kind === 'special') throw new Invalid('must be a finite number (NaN and Infinity are not allowed)')
  if (parsed.kind === 'invalid') throw new Invalid(`must be a decimal number, e.g. "12.5", not ${pyRepr(value)}`)
  const number = parsed.value
  if (number.places > 18) throw new Invalid('has more than 18 decimal places; round it')
  const low = rule.min === undefined ? null : (parseExact(rule.min) as { value: Exact }).value
  const high = rule.max === undefined ? null : (parseExact(rule.max) as { value: Exact }).value
  const tooLow = low !== null && (rule.minExclusive ? compareExact(number, low) <= 0 : compareExact(number, low) < 0)
  const tooHigh = high !== null && (rule.maxExclusive ? compareExact(number, high) >= 0 : compareExact(number, high) > 0)
  if (tooLow || tooHigh) throw new Invalid(`must be ${rangeText(rule)}${rule.hint ?? ''}; got ${plainExact(number)}`)
  return number
}

const WHOLE = /^\s*-?\d{1,12}\s*$/

function loadInt(value: unknown, rule: IntRule): number {
  if (value === undefined) throw new Invalid(MESSAGES.required)
  if (value === null) throw new Invalid(MESSAGES.null)
  if (typeof value === 'boolean') throw new Invalid('must be a whole number, not true/false')
  let number: number | null = null
  if (typeof value === 'number' && Number.isInteger(value)) number = value
  else if (typeof value === 'string' && WHOLE.test(value)) number = Number(value.trim())
  if (number === null) throw new Invalid(`must be a whole number, not ${pyRepr(value)}`)
  if (number < rule.min || number > rule.max) {
    throw new Invalid(`must be between ${rule.min} and ${rule.max}${rule.hint ?? ''}; got ${number}`)
  }
  return number
}

/** The server's message for one scalar value, or null when it is valid. */
export function fieldError(value: unknown, rule: FieldRule): string | null {
  try {
    if (rule.kind === 'decimal') loadDecimal(value, rule)
    else if (rule.kind === 'int') loadInt(value, rule)
    else if (rule.kind === 'bool') {
      if (value === undefined) throw new Invalid(MESSAGES.required)
      if (value === null) throw new Invalid(MESSAGES.null)
      if (typeof value !== 'boolean') throw new Invalid(`must be true or false (a JSON boolean), not ${pyRepr(value)}`)
    } else {
      if (value === undefined) throw new Invalid(MESSAGES.required)
      if (value === null) throw new Invalid(MESSAGES.null)
      if (typeof value !== 'string') throw new Invalid(`must be one of: ${rule.options.join(', ')}`)
      if (!rule.options.includes(value)) {
        throw new Invalid(`must be one of: ${rule.options.join(', ')}; got ${pyRepr(value)}`)
      }
    }
    return null
  } catch (error) {
    if (error instanceof Invalid) return error.message
    throw error
  }
}

// ---- lists ------------------------------------------------------------------------------------

function add(errors: FieldErrors, path: string, message: string): void {
  ;(errors[path] ??= []).push(message)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Decimal of text as the weight sum shows it; null when not a number. */
function decimalOrNull(value: unknown): Exact | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null
  const parsed = parseExact(String(value))
  return parsed.kind === 'number' ? parsed.value : null
}

/** Sum of the weights that are numbers (the live "Σ" under a legs or weights table). */
export function weightSum(values: unknown[]): string {
  return plainExact(sumExact(values.map(decimalOrNull).filter((v): v is Exact => v !== null)))
}

/** A grid's legs at `path` (`grid.legs` or `grid.symbol_overrides.<S>.legs`). */
export function checkLegs(legs: unknown, path: string, errors: FieldErrors): void {
  if (legs === undefined) return add(errors, path, MESSAGES.required)
  if (legs === null) return add(errors, path, MESSAGES.null)
  if (!Array.isArray(legs)) return add(errors, path, MESSAGES.legsList)
  let itemsValid = true
  const weights: Exact[] = []
  legs.forEach((leg, index) => {
    const at = `${path}.${index}`
    if (!isObject(leg)) {
      add(errors, `${at}._schema`, 'Invalid input type.')
      itemsValid = false
      return
    }
    for (const [key, rule] of Object.entries(LEG_RULES)) {
      const message = fieldError(leg[key], rule)
      if (message) {
        add(errors, `${at}.${key}`, message)
        itemsValid = false
      } else if (key === 'weight_percent') {
        weights.push(decimalOrNull(leg[key]) as Exact)
      }
    }
  })
  if (!itemsValid) return
  if (legs.length < 1 || legs.length > MAX_LEGS) {
    return add(errors, path, `a grid needs between 1 and ${MAX_LEGS} legs; got ${legs.length}`)
  }
  const total = sumExact(weights)
  if (compareExact(total, exactFromInt(100)) !== 0) {
    add(
      errors,
      path,
      `leg weights sum to ${plainExact(total)}; they must sum to exactly 100 ` +
        '(adjust weight_percent so the legs add up to 100)',
    )
  }
}

function checkOverrides(overrides: unknown, errors: FieldErrors): void {
  const path = 'grid.symbol_overrides'
  if (overrides === undefined) return add(errors, path, MESSAGES.required)
  if (overrides === null) return add(errors, path, MESSAGES.null)
  if (!isObject(overrides)) return add(errors, path, MESSAGES.overridesObject)
  const symbols = Object.keys(overrides)
  if (symbols.length > MAX_SYMBOL_OVERRIDES) {
    return add(errors, path, `at most ${MAX_SYMBOL_OVERRIDES} symbol overrides`)
  }
  for (const symbol of symbols) {
    const at = `${path}.${symbol}`
    if (!SYMBOL_RE.test(symbol)) {
      add(errors, at, MESSAGES.symbol)
      continue
    }
    const override = overrides[symbol]
    if (!isObject(override)) {
      add(errors, `${at}._schema`, 'Invalid input type.')
      continue
    }
    checkLegs(override.legs, `${at}.legs`, errors)
  }
}

function checkCapital(capital: Record<string, unknown>, errors: FieldErrors, scalarsValid: boolean): void {
  const path = 'capital.pyramid_weights'
  const weights = capital.pyramid_weights
  if (weights === undefined) return add(errors, path, MESSAGES.required)
  if (weights === null) return add(errors, path, MESSAGES.null)
  if (!Array.isArray(weights)) return add(errors, path, MESSAGES.weightsList)
  let itemsValid = true
  weights.forEach((weight, index) => {
    const message = fieldError(weight, PYRAMID_WEIGHT_RULE)
    if (message) {
      add(errors, `${path}.${index}`, message)
      itemsValid = false
    }
  })
  // marshmallow's schema-level rule runs only when every field of the section loaded.
  if (!itemsValid || !scalarsValid) return
  const count = Number(String(capital.max_pyramids).trim())
  if (weights.length !== count) {
    return add(
      errors,
      path,
      `has ${weights.length} weights but max_pyramids is ${count}; give exactly ${count} weights ` +
        'summing to 100, or leave pyramid_weights out to split 100 equally',
    )
  }
  const total = sumExact(weights.map((w) => decimalOrNull(w) as Exact))
  if (compareExact(total, exactFromInt(100)) !== 0) {
    add(errors, path, `pyramid weights sum to ${plainExact(total)}; they must sum to exactly 100`)
  }
}

function checkAllowlist(list: unknown, errors: FieldErrors): void {
  const path = 'signals.ip_allowlist'
  if (list === undefined) return add(errors, path, MESSAGES.required)
  if (list === null) return add(errors, path, MESSAGES.null)
  if (!Array.isArray(list)) return add(errors, path, MESSAGES.allowlistList)
  if (list.length > MAX_ALLOWLIST_ENTRIES) return add(errors, path, `at most ${MAX_ALLOWLIST_ENTRIES} entries`)
  list.forEach((entry, index) => {
    const message = allowlistEntryError(entry)
    if (message) add(errors, `${path}.${index}`, message)
  })
}

/** Every problem of a whole settings document, keyed by field path ({} when it is valid). */
export function validateSettings(doc: unknown): FieldErrors {
  const errors: FieldErrors = {}
  if (!isObject(doc)) {
    add(errors, '_schema', 'the settings document must be a JSON object')
    return errors
  }
  for (const section of SECTIONS) {
    const value = doc[section]
    if (value === undefined) {
      add(errors, section, MESSAGES.required)
      continue
    }
    if (value === null) {
      add(errors, section, MESSAGES.null)
      continue
    }
    if (!isObject(value)) {
      add(errors, section, MESSAGES.object)
      continue
    }
    let scalarsValid = true
    for (const [key, rule] of Object.entries(FIELD_RULES[section] as Record<string, FieldRule>)) {
      const message = fieldError(value[key], rule)
      if (message) {
        add(errors, `${section}.${key}`, message)
        scalarsValid = false
      }
    }
    if (section === 'capital') checkCapital(value, errors, scalarsValid)
    if (section === 'grid') {
      checkLegs(value.legs, 'grid.legs', errors)
      checkOverrides(value.symbol_overrides, errors)
    }
    if (section === 'signals') checkAllowlist(value.ip_allowlist, errors)
  }
  return errors
}
