import type { IsoTime, Uuid } from './common'
import type { LogLine } from './logs'
import type { RiskAction } from './risk'

/** `running` trades; `paused` by the trader; `degraded`: an exchange's circuit breaker is open;
 * `error`: the exchange rejected the API keys (SPEC §4.6). */
export type EngineState = 'running' | 'paused' | 'degraded' | 'error'

export interface EngineAccount {
  account_id: Uuid
  exchange: string
  market_type: string
  mode: string
  breaker: 'closed' | 'open' | 'half_open' | (string & {})
  last_error: string | null
}

/** `GET /api/engine` and the `engine.status` event. */
export interface EngineStatus {
  status: EngineState
  message: string
  /** What to do about it, in the trader's words; null while running. */
  action: string | null
  paused_at: IsoTime | null
  pause_reason: string | null
  account_id: Uuid | null
  accounts: EngineAccount[]
  can_pause: boolean
  can_resume: boolean
  /** Only in the answer of `POST /api/engine/apply`. */
  applied_version?: number
}

export interface PoolUsage {
  used: number
  max: number
  free?: number
  queued?: number
}

export interface RiskStatus {
  enabled: boolean
  last_run_at: IsoTime | null
  next_run_at: IsoTime | null
  last_action: RiskAction | null
}

/** `GET /api/dashboard`. Money and percentages are decimal strings. */
export interface Dashboard {
  active_groups: number
  pool: PoolUsage
  queued: number
  pnl: {
    realized_usd: string
    unrealized_usd: string
    total_usd: string
    total_percent: string
    capital_usd?: string
  }
  last_webhook_at: IsoTime | null
  last_webhook?: { at: IsoTime; status: string; symbol: string | null } | null
  engine_status: EngineState
  engine?: EngineStatus
  risk: RiskStatus
  alerts: LogLine[]
  alerts_total?: number
}
