import { describe, expect, it } from 'vitest'
import { ORDER_STATUS_TAG, orderStatusTag, statusTone, tpModeLabel } from './statusLook'
import { ORDER_STATUSES } from '@/types/positions'

describe('status colours', () => {
  it('maps every order status to a tag colour', () => {
    expect(ORDER_STATUS_TAG).toEqual({
      pending: 'default',
      open: 'info',
      partially_filled: 'warning',
      filled: 'success',
      cancelled: 'default',
      failed: 'error',
    })
    for (const status of ORDER_STATUSES) expect(orderStatusTag(status)).toBe(ORDER_STATUS_TAG[status])
  })

  it('shows a status the SPA does not know as a warning, never as success', () => {
    expect(orderStatusTag('lost')).toBe('warning')
    expect(orderStatusTag('toString')).toBe('warning')
  })

  it('colours timeline events by the status they moved to, group statuses first', () => {
    expect(statusTone('active')).toBe('success')
    expect(statusTone('closing')).toBe('warning')
    expect(statusTone('filled')).toBe('success')
    expect(statusTone('failed')).toBe('error')
    expect(statusTone(null)).toBe('default')
  })

  it('names the take-profit modes', () => {
    expect(['per_leg', 'aggregate', 'hybrid', 'trailing'].map(tpModeLabel)).toEqual([
      'Per leg',
      'Aggregate',
      'Hybrid',
      'trailing',
    ])
  })
})
