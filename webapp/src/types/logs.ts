import type { IsoTime, Uuid } from './common'

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const LOG_CATEGORIES = [
  'SECURITY',
  'TRADING',
  'RISK',
  'WEBHOOK',
  'ORDER',
  'PRECISION',
  'SYSTEM',
  'API',
] as const
export type LogCategory = (typeof LOG_CATEGORIES)[number]

/** Levels that are alerts: pinned until acknowledged. */
export const ALERT_LEVELS: readonly LogLevel[] = ['WARNING', 'ERROR', 'CRITICAL']

/** One system-log line (`GET /api/logs` and the `log.created` event). */
export interface LogLine {
  id: Uuid
  created_at: IsoTime
  level: LogLevel | (string & {})
  category: LogCategory | (string & {})
  message: string
  symbol: string | null
  context: Record<string, unknown>
  acknowledged: boolean
  user_id: Uuid | null
}

/** A page of a cursor-paged list, newest first; `next_cursor` null on the last page. */
export interface CursorPage<T> {
  items: T[]
  next_cursor: string | null
}

/** What the Logs page filters by (sent as the query of `GET /api/logs` and its export). */
export interface LogFilters {
  levels: LogLevel[]
  categories: LogCategory[]
  q: string
  symbol: string
  /** ISO times; `to` is exclusive. */
  from: IsoTime | null
  to: IsoTime | null
}

/** One row of `GET /api/audit`. */
export interface AuditEntry {
  id: Uuid
  created_at: IsoTime
  actor_id: Uuid | null
  actor: string | null
  action: string
  target_type: string | null
  target_id: string | null
  detail: Record<string, unknown>
  remote_addr: string | null
}

export const WEBHOOK_STATUSES = [
  'accepted',
  'duplicate',
  'rejected',
  'unauthorized',
  'stale',
  'invalid',
  'rate_limited',
] as const
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number]

/** One row of the webhook log (`GET /api/webhooks`); the payload is stored redacted. */
export interface WebhookLogRow {
  id: Uuid
  received_at: IsoTime
  status: WebhookStatus | (string & {})
  http_status: number
  reason: string | null
  classification: string | null
  symbol: string | null
  payload: unknown
  signal_id: Uuid | null
  group_id: Uuid | null
  is_replay: boolean
  replay_of: Uuid | null
  remote_addr: string | null
}

/** The webhook's own answer to a replay (202 accepted, 422 …). */
export interface ReplayAnswer {
  signal_id?: Uuid
  status?: string
  [key: string]: unknown
}
