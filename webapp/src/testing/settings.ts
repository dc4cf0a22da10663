import type { SettingsDocument, SettingsRecord } from '@/types/settings'

/** The server's `DEFAULT_SETTINGS` (server/domain/settings.py), for tests. */
export function defaultSettings(): SettingsDocument {
  return {
    precision: { precision_refresh_sec: 60, min_notional_policy: 'reject', precision_hold_seconds: 120 },
    pool: {
      max_open_groups: 10,
      count_pyramids_toward_pool: false,
      queue_max_age_minutes: 240,
      promotion_anchor: 'market',
      queue_sweep_sec: 5,
    },
    capital: { total_capital_usd: '10000', max_pyramids: 5, pyramid_weights: ['20', '20', '20', '20', '20'] },
    grid: {
      entry_order_type: 'market',
      legs: [
        { gap_percent: '0', weight_percent: '20', tp_percent: '1' },
        { gap_percent: '-0.5', weight_percent: '20', tp_percent: '0.5' },
        { gap_percent: '-1', weight_percent: '20', tp_percent: '0.5' },
        { gap_percent: '-2', weight_percent: '20', tp_percent: '0.5' },
        { gap_percent: '-4', weight_percent: '20', tp_percent: '0.5' },
      ],
      symbol_overrides: {},
    },
    take_profit: { tp_mode: 'per_leg', tp_aggregate_percent: '1' },
    risk: {
      enabled: true,
      loss_threshold_percent: '-5',
      require_full_pyramids: true,
      timer_start_condition: 'after_all_dca_filled',
      post_full_wait_minutes: 60,
      min_age_minutes: 0,
      max_winners_to_combine: 3,
      allow_partial_offset: false,
      evaluation_interval_sec: 60,
    },
    signals: { max_signal_age_seconds: 300, ip_allowlist: [], use_tradingview_preset: false },
    logs: { system_retention_days: 30, audit_retention_days: 90 },
    ui: { theme: 'dark' },
  }
}

export function makeRecord(overrides: Partial<SettingsRecord> = {}): SettingsRecord {
  return { version: 0, settings: defaultSettings(), updated_at: null, updated_by: null, ...overrides }
}
