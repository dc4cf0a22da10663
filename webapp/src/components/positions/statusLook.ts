import type { GroupStatus, Side } from '@/types/positions'

type TagType = 'default' | 'info' | 'success' | 'warning' | 'error'

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

/** "partially_filled" → "partially filled". */
export function statusLabel(status: GroupStatus): string {
  return status.replace(/_/g, ' ')
}
