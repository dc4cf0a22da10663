/** What each scalar setting is called on the page and what it means (rules live in rules.ts). */
import { computed } from 'vue'
import { FIELD_RULES, type FieldRule } from './rules'
import { useSessionStore } from '@/stores/session'

export interface FieldSpec {
  /** Dotted path in the document, as the server names it in `error.fields`. */
  path: string
  label: string
  help?: string
  unit?: string
  /** Labels of a choice's values (defaults to the values). */
  optionLabels?: Record<string, string>
}

export function ruleFor(path: string): FieldRule | undefined {
  const [section, key] = path.split('.')
  const rules = (FIELD_RULES as Record<string, Record<string, FieldRule>>)[section ?? '']
  return rules?.[key ?? '']
}

/** Viewers see settings read-only: inputs disabled, actions hidden (SPEC §9). */
export function useReadOnly() {
  const session = useSessionStore()
  return computed(() => !session.can('trader'))
}

export const PRECISION_FIELDS: FieldSpec[] = [
  {
    path: 'precision.precision_refresh_sec',
    label: 'Refresh market rules every',
    unit: 's',
    help: 'How often tick size, step size and minimums are re-read from the exchange.',
  },
  {
    path: 'precision.min_notional_policy',
    label: 'Below minimum notional',
    optionLabels: { reject: 'Reject the grid', bump: 'Bump the quantity up' },
    help: 'What happens when a leg rounds below the exchange’s minimum order value.',
  },
  {
    path: 'precision.precision_hold_seconds',
    label: 'Hold a signal for rules up to',
    unit: 's',
    help: 'How long a signal waits for market rules that cannot be read right now.',
  },
]

export const POOL_FIELDS: FieldSpec[] = [
  { path: 'pool.max_open_groups', label: 'Max open groups', help: 'Execution pool size; further entries queue.' },
  {
    path: 'pool.count_pyramids_toward_pool',
    label: 'Pyramids take pool slots',
    help: 'Count every pyramid, not only every group, toward the pool.',
  },
  { path: 'pool.queue_max_age_minutes', label: 'Drop queued signals after', unit: 'min' },
  {
    path: 'pool.promotion_anchor',
    label: 'Grid anchor when promoted',
    optionLabels: { market: 'Market price at promotion', signal: 'Signal’s own price' },
  },
  { path: 'pool.queue_sweep_sec', label: 'Check the queue every', unit: 's' },
]

export const CAPITAL_FIELDS: FieldSpec[] = [
  { path: 'capital.total_capital_usd', label: 'Capital per group', unit: 'USD', help: 'Split over the pyramids below.' },
  { path: 'capital.max_pyramids', label: 'Max pyramids', help: 'Repeat entries a group may take (1–20).' },
]

export const GRID_FIELDS: FieldSpec[] = [
  {
    path: 'grid.entry_order_type',
    label: 'First leg order type',
    optionLabels: { market: 'Market', limit: 'Limit at the signal price' },
  },
]

export const TAKE_PROFIT_FIELDS: FieldSpec[] = [
  {
    path: 'take_profit.tp_mode',
    label: 'Take-profit mode',
    optionLabels: { per_leg: 'Per leg', aggregate: 'On the average entry', hybrid: 'Hybrid (both)' },
  },
  {
    path: 'take_profit.tp_aggregate_percent',
    label: 'Aggregate take-profit',
    unit: '%',
    help: 'Above the weighted average entry (aggregate and hybrid modes).',
  },
]

export const RISK_FIELDS: FieldSpec[] = [
  { path: 'risk.enabled', label: 'Risk engine on' },
  {
    path: 'risk.loss_threshold_percent',
    label: 'Loss threshold',
    unit: '%',
    help: 'A group below this unrealised loss becomes a candidate to close.',
  },
  { path: 'risk.require_full_pyramids', label: 'Only groups with every pyramid' },
  {
    path: 'risk.timer_start_condition',
    label: 'Timer starts',
    optionLabels: {
      after_max_pyramids: 'After the last pyramid',
      after_all_dca_submitted: 'After every DCA order is placed',
      after_all_dca_filled: 'After every DCA order filled',
    },
  },
  { path: 'risk.post_full_wait_minutes', label: 'Wait after the timer starts', unit: 'min' },
  { path: 'risk.min_age_minutes', label: 'Minimum group age', unit: 'min', help: '0 turns the age filter off.' },
  { path: 'risk.max_winners_to_combine', label: 'Winners to combine', help: 'Profitable groups that pay for one loss.' },
  { path: 'risk.allow_partial_offset', label: 'Act when winners cover the loss only partly' },
  { path: 'risk.evaluation_interval_sec', label: 'Evaluate every', unit: 's' },
]

export const SIGNAL_FIELDS: FieldSpec[] = [
  {
    path: 'signals.max_signal_age_seconds',
    label: 'Refuse signals older than',
    unit: 's',
    help: 'Measured from the alert’s {{timenow}}.',
  },
  {
    path: 'signals.use_tradingview_preset',
    label: 'Allow TradingView’s addresses',
    help: 'Adds TradingView’s four webhook senders to the allowlist.',
  },
]

export const LOG_FIELDS: FieldSpec[] = [
  { path: 'logs.system_retention_days', label: 'Keep system and webhook logs', unit: 'days' },
  { path: 'logs.audit_retention_days', label: 'Keep the audit log', unit: 'days' },
]

export const UI_FIELDS: FieldSpec[] = [
  { path: 'ui.theme', label: 'Theme', optionLabels: { dark: 'Dark', light: 'Light' } },
]
