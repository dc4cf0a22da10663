/** `GET /api/pool` (API.md "Positions, pool, queue, risk"). */
export interface PoolSlot {
  slot_id: string
  group_id: string
  /** Opened by a trader's force add, over the limit. */
  forced: boolean
}

export interface PoolState {
  max_open_groups: number
  used: number
  free: number
  groups: string[]
  over_limit?: number
  slots?: PoolSlot[]
}

/** One queued entry signal, as `GET /api/queue` and `queue.updated` send it. */
export interface QueuedSignal {
  id: string
  signal_id?: string
  account_id?: string
  symbol: string
  timeframe: number | string
  side: 'long' | 'short'
  entry_price: string | null
  replacement_count: number
  current_loss_percent: string
  expected_profit_usd: string
  queued_at: string
  time_in_queue_seconds?: number
  /** 1 = promoted next. */
  priority_rank: number
  is_pyramid_continuation: boolean
}

export interface QueueList {
  items: QueuedSignal[]
  /** Every queued signal (an event carries only the top of a long queue). */
  total?: number
}

export type QueueAction = 'promote' | 'force' | 'remove'

export interface QueueActionResult {
  id: string
  status: string
  group_id?: string | null
  message?: string
}
