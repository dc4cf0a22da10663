import type { DecimalString, IsoTime, Uuid } from './common'

/** Group lifecycle (SPEC §4.1). */
export type GroupStatus =
  | 'waiting'
  | 'live'
  | 'partially_filled'
  | 'active'
  | 'closing'
  | 'closed'
  | 'failed'

export type Side = 'long' | 'short'

export type TpMode = 'per_leg' | 'aggregate' | 'hybrid'

/** Which groups `GET /api/positions?status=` returns. */
export type PositionsFilter = 'open' | 'closed' | 'all'

/**
 * One position group as `GET /api/positions` lists it, and as the `group.updated` event carries it.
 * Money and quantities are decimal strings and may be null (nothing filled yet).
 */
export interface PositionGroup {
  id: Uuid
  account_id: Uuid
  exchange: string
  symbol: string
  /** TradingView interval; the engine stores minutes and sends them as a number (60). */
  timeframe: string | number
  side: Side
  status: GroupStatus
  pyramid_count: number
  max_pyramids: number
  filled_dca_legs: number
  total_dca_legs: number
  weighted_avg_entry: DecimalString | null
  total_filled_quantity: DecimalString | null
  total_invested_usd: DecimalString | null
  unrealized_pnl_usd: DecimalString | null
  unrealized_pnl_percent: DecimalString | null
  realized_pnl_usd: DecimalString | null
  tp_mode: TpMode
  created_at: IsoTime
  closed_at: IsoTime | null
  /** Why a `failed` group failed (sent by the engine, not in API.md). */
  failure_reason?: string | null
}

/** `GET /api/positions`. */
export interface PositionGroupList {
  items: PositionGroup[]
}

/** `GET /api/positions` answers with at most this many groups, the newest first
 *  (server/api/positions.py): a full answer is a window onto a longer list. */
export const POSITIONS_LIST_CAP = 1000

/** Exchange order life cycle (SPEC §4.2). */
export const ORDER_STATUSES = ['pending', 'open', 'partially_filled', 'filled', 'cancelled', 'failed'] as const
export type KnownOrderStatus = (typeof ORDER_STATUSES)[number]
/** A status the SPA does not know yet (e.g. a reconciliation state) is still shown as it came. */
export type OrderStatus = KnownOrderStatus | (string & {})

/** Why an order exists (part of its client order id). */
export type OrderPurpose = 'entry' | 'tp' | 'close' | 'risk'

/**
 * One DCA leg (an entry order) of a pyramid, as `GET /api/positions/<id>` lists it.
 * `leg` and the pyramid's `index` are the engine's numbers (the grid counts from 0).
 */
export interface DcaLeg {
  leg: number | null
  status: OrderStatus
  price: DecimalString | null
  quantity: DecimalString | null
  filled_quantity: DecimalString | null
  avg_fill_price: DecimalString | null
  weight_percent: DecimalString | null
  gap_percent: DecimalString | null
  tp_percent: DecimalString | null
  tp_price: DecimalString | null
  tp_hit: boolean | null
  client_order_id: string | null
  exchange_order_id: string | null
  fee: DecimalString | null
  /** Not in API.md; shown when the engine sends them. */
  side?: 'buy' | 'sell' | null
  order_type?: 'limit' | 'market' | null
  fee_currency?: string | null
  purpose?: OrderPurpose | null
}

export interface Pyramid {
  index: number
  entry_price: DecimalString | null
  capital_usd: DecimalString | null
  status: string
  created_at: IsoTime | null
  legs: DcaLeg[]
}

/** One line of a group's trail: a group transition or an order event. */
export interface PositionEvent {
  kind: string
  from_status: string | null
  to_status: string | null
  detail: Record<string, unknown> | string | null
  created_at: IsoTime
}

/** `GET /api/positions/<id>`: the group, its pyramids with their legs, and its events. */
export interface PositionDetail extends PositionGroup {
  pyramids: Pyramid[]
  events: PositionEvent[]
}

/** The `order.updated` event: one order of a group, in the leg's shape. */
export interface OrderUpdate extends DcaLeg {
  group_id: Uuid
  pyramid_index: number | null
  purpose: OrderPurpose
}

/** `POST /api/positions/<id>/close` (202); the body is not specified, a `message` is shown if sent. */
export interface CloseAccepted {
  message?: string
}
