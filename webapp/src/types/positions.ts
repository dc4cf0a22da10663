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
  timeframe: string
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
}

/** `GET /api/positions`. */
export interface PositionGroupList {
  items: PositionGroup[]
}
