import type { EngineStatus, PoolUsage } from './dashboard'
import type { LogLine } from './logs'
import type { OrderUpdate, PositionGroup } from './positions'
import type { RiskAction, RiskPanel } from './risk'

/** Socket.IO events the server emits that the app listens to (API.md, "Live events"). */
export interface ServerToClientEvents {
  'group.updated': (group: PositionGroup) => void
  /** One order (a DCA leg, or a TP / close / risk order) of a group changed. */
  'order.updated': (order: OrderUpdate) => void
  /** A new system-log line of the signed-in user. */
  'log.created': (line: LogLine) => void
  /** The risk panel recomputed (same shape as `GET /api/risk`). */
  'risk.updated': (panel: RiskPanel) => void
  /** A risk action was recorded or finished. */
  'risk.action': (action: RiskAction) => void
  /** The engine status of the signed-in user changed (the `GET /api/engine` shape). */
  'engine.status': (status: EngineStatus) => void
  /** The pool's slots changed (`used`/`max`, maybe `queued`). */
  'pool.updated': (pool: Partial<PoolUsage>) => void
  /** The queue or an alert changed: the dashboard re-reads its figures. */
  'queue.updated': (payload: unknown) => void
  'alert.created': (payload: unknown) => void
}

/** The app emits nothing to the server yet. */
export type ClientToServerEvents = Record<string, never>
