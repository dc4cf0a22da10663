import type { DecimalString, IsoTime, Uuid } from './common'

/** One DCA leg of a grid as the settings document holds it (SPEC §3.2). */
export interface GridLeg {
  gap_percent: DecimalString
  weight_percent: DecimalString
  tp_percent: DecimalString
}

export interface SymbolOverride {
  legs: GridLeg[]
}

/**
 * The per-user settings document (SPEC §9, `server/domain/settings.py`). Decimals travel as
 * strings, counts as numbers, flags as booleans. While the trader types, a field may briefly hold
 * text that is not (yet) a valid value: `Editable<T>` allows it, and validation names the field.
 */
export interface SettingsDocument {
  precision: {
    precision_refresh_sec: number
    min_notional_policy: 'reject' | 'bump'
    precision_hold_seconds: number
  }
  pool: {
    max_open_groups: number
    count_pyramids_toward_pool: boolean
    queue_max_age_minutes: number
    promotion_anchor: 'market' | 'signal'
    queue_sweep_sec: number
  }
  capital: {
    total_capital_usd: DecimalString
    max_pyramids: number
    pyramid_weights: DecimalString[]
  }
  grid: {
    entry_order_type: 'market' | 'limit'
    legs: GridLeg[]
    symbol_overrides: Record<string, SymbolOverride>
  }
  take_profit: {
    tp_mode: 'per_leg' | 'aggregate' | 'hybrid'
    tp_aggregate_percent: DecimalString
  }
  risk: {
    enabled: boolean
    loss_threshold_percent: DecimalString
    require_full_pyramids: boolean
    timer_start_condition: 'after_max_pyramids' | 'after_all_dca_submitted' | 'after_all_dca_filled'
    post_full_wait_minutes: number
    min_age_minutes: number
    max_winners_to_combine: number
    allow_partial_offset: boolean
    evaluation_interval_sec: number
  }
  signals: {
    max_signal_age_seconds: number
    ip_allowlist: string[]
    use_tradingview_preset: boolean
  }
  logs: {
    system_retention_days: number
    audit_retention_days: number
  }
  ui: {
    theme: 'dark' | 'light'
  }
}

export type SettingsSection = keyof SettingsDocument

/** `GET /api/settings` (and the answer of PUT, import, restore and reset). */
export interface SettingsRecord {
  /** 0 = never saved: the product defaults. */
  version: number
  settings: SettingsDocument
  updated_at: IsoTime | null
  updated_by: string | null
}

/** One row of `GET /api/settings/history`. */
export interface SettingsHistoryEntry {
  version: number
  created_at: IsoTime
  created_by: string | null
  note: string
}

/** `GET /api/settings/history/<v>`. */
export interface SettingsVersionDocument extends SettingsHistoryEntry {
  settings: SettingsDocument
}

/** `GET /api/settings/export`: accepted back by `POST /api/settings/import`. */
export interface SettingsExport {
  format: string
  format_version: number
  exported_at: IsoTime
  version: number
  settings: SettingsDocument
}

export type PreviewSide = 'long' | 'short'

/** `POST /api/settings/preview`. */
export interface PreviewRequest {
  symbol: string
  side: PreviewSide
  entry_price: DecimalString
  account_id?: Uuid | null
  /** A draft (whole or some sections) laid over the saved settings. */
  settings?: Partial<SettingsDocument> | null
  pyramid_index?: number
}

/** One leg of the previewed grid, after rounding by the market's rules. */
export interface PreviewLeg {
  leg: number
  gap_percent: DecimalString
  weight_percent: DecimalString
  price: DecimalString | null
  quantity: DecimalString | null
  notional: DecimalString | null
  tp_percent: DecimalString
  tp_price: DecimalString | null
  valid: boolean
  reason: string | null
  order_type?: 'market' | 'limit'
  side?: 'buy' | 'sell'
  capital?: DecimalString
  bumped?: boolean
}

export interface MarketRulesView {
  tick_size?: DecimalString
  step_size?: DecimalString
  min_qty?: DecimalString
  min_notional?: DecimalString | null
  [key: string]: unknown
}

/** The answer of `POST /api/settings/preview`. */
export interface PreviewResult {
  symbol: string
  side: PreviewSide
  entry_price: DecimalString
  pyramid_index?: number
  pyramid_capital?: DecimalString
  valid: boolean
  reason: string | null
  legs: PreviewLeg[]
  account_id: Uuid
  exchange: string
  market_type: string
  rules: MarketRulesView
  [key: string]: unknown
}

/** `POST /api/auth/webhook-secret`: the new secret, shown only in this answer. */
export interface RotatedSecret {
  webhook_secret: string
  webhook_url: string
}

/** Field paths ("grid.legs.1.gap_percent") → why they are invalid. */
export type FieldErrors = Record<string, string[]>
