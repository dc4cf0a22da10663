import { percentOf } from '@/utils/decimal'
import { formatDecimal, formatQuantity, NONE } from '@/utils/format'
import type { DcaLeg, PositionEvent } from '@/types/positions'

export interface FillProgress {
  /** 0–100, truncated: a leg shows 100 only when fully filled. */
  percent: number
  label: string
}

/**
 * How much of a leg is filled, from the decimal strings themselves ("0.00031" of "0.00062" → 50%).
 * Null when the quantity is unknown or zero.
 */
export function fillProgress(filled: string | null | undefined, quantity: string | null | undefined): FillProgress | null {
  if (!quantity) return null
  const exact = percentOf(filled || '0', quantity, 6)
  if (exact === null) return null
  const value = Number(exact) // six exact decimals: enough to truncate and to tell "some" from none
  const percent = Math.min(100, Math.max(0, Math.trunc(value)))
  const label = percent === 0 && value > 0 ? '<1%' : `${percent}%`
  return { percent, label }
}

/** "buy · limit", "sell · market · tp"; empty when the engine sent none of them. */
export function legKind(leg: DcaLeg): string {
  const parts: (string | null | undefined)[] = [
    leg.side,
    leg.order_type,
    leg.purpose && leg.purpose !== 'entry' ? leg.purpose : null,
  ]
  return parts.filter((part): part is string => Boolean(part)).join(' · ')
}

/** The leg's price; a market leg without one says so. */
export function legPrice(leg: DcaLeg): string {
  if (!leg.price && leg.order_type === 'market') return 'market'
  return formatQuantity(leg.price)
}

/** "0.0123 USDT", "0.0123" when the currency is not sent, "—" when there is no fee. */
export function legFee(leg: DcaLeg): string {
  const fee = formatDecimal(leg.fee)
  return fee !== NONE && leg.fee_currency ? `${fee} ${leg.fee_currency}` : fee
}

/** Newest first; events with the same time keep the engine's order reversed. */
export function newestFirst(events: readonly PositionEvent[]): PositionEvent[] {
  return events
    .map((event, order) => ({ event, order, time: Date.parse(event.created_at) }))
    .sort((a, b) => {
      const at = Number.isNaN(a.time) ? 0 : a.time
      const bt = Number.isNaN(b.time) ? 0 : b.time
      return bt - at || b.order - a.order
    })
    .map(({ event }) => event)
}

/** "order_filled" → "Order filled". */
export function eventTitle(kind: string): string {
  const words = kind.replace(/[._]/g, ' ').trim()
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : 'Event'
}

/** The event's detail in one line: its `message`/`reason` if it has one, else `key: value` pairs. */
export function eventDetail(detail: PositionEvent['detail']): string {
  if (detail === null || detail === undefined) return ''
  if (typeof detail === 'string') return detail
  for (const key of ['message', 'reason']) {
    const value = detail[key]
    if (typeof value === 'string' && value) return value
  }
  return Object.entries(detail)
    .filter(([, value]) => value !== null && value !== undefined && value !== '')
    .map(([key, value]) => `${key.replace(/_/g, ' ')}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(' · ')
}
