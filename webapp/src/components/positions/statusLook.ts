import type { GroupStatus, KnownOrderStatus, Side, TpMode } from '@/types/positions'

export type TagType = 'default' | 'info' | 'success' | 'warning' | 'error'

/** Tag colour per group status (SPEC §4.1). */
export const STATUS_TAG: Record<GroupStatus, TagType> = {
  waiting: 'default',
  live: 'info',
  partially_filled: 'warning',
  active: 'success',
  closing: 'warning',
  closed: 'default',
  failed: 'error',
}

export const SIDE_TAG: Record<Side, TagType> = { long: 'success', short: 'error' }

/** Tag colour per order (DCA leg) status (SPEC §4.2). */
export const ORDER_STATUS_TAG: Record<KnownOrderStatus, TagType> = {
  pending: 'default',
  open: 'info',
  partially_filled: 'warning',
  filled: 'success',
  cancelled: 'default',
  failed: 'error',
}

/** The tag colour of an order status; one the SPA does not know yet is shown as a warning. */
export function orderStatusTag(status: string): TagType {
  return Object.hasOwn(ORDER_STATUS_TAG, status) ? ORDER_STATUS_TAG[status as KnownOrderStatus] : 'warning'
}

/** "partially_filled" → "partially filled". */
export function statusLabel(status: string): string {
  return status.replace(/_/g, ' ')
}

export const TP_MODE_LABEL: Record<TpMode, string> = {
  per_leg: 'Per leg',
  aggregate: 'Aggregate',
  hybrid: 'Hybrid',
}

export function tpModeLabel(mode: string): string {
  return Object.hasOwn(TP_MODE_LABEL, mode) ? TP_MODE_LABEL[mode as TpMode] : statusLabel(mode)
}

/** Colour for any status the engine sends (group, pyramid or order); null → default. */
export function statusTone(toStatus: string | null): TagType {
  if (!toStatus) return 'default'
  if (Object.hasOwn(STATUS_TAG, toStatus)) return STATUS_TAG[toStatus as GroupStatus]
  return orderStatusTag(toStatus)
}
