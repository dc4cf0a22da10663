import type { EngineStatus } from './dashboard'
import type { LogLine } from './logs'
import type { OrderUpdate, PositionGroup } from './positions'
import type { PoolState, QueueList } from './queue'
import type { RiskAction, RiskNotice } from './risk'

/** Socket.IO events the server emits that the app listens to (API.md, "Live events"). */
export interface ServerToClientEvents {
  'group.updated': (group: PositionGroup) => void
  /** One order (a DCA leg, or a TP / close / risk order) of a group changed. */
  'order.updated': (order: OrderUpdate) => void
  /** A new system-log line of the signed-in user. */
  'log.created': (line: LogLine) => void
  /** The risk panel moved (a run, a control): a notice; the panel is re-read (docs/api.md). */
  'risk.updated': (notice: RiskNotice) => void
  /** A risk action was recorded or finished. */
  'risk.action': (action: RiskAction) => void
  /** The engine status of the signed-in user changed (the `GET /api/engine` shape). */
  'engine.status': (status: EngineStatus) => void
  /** The queue changed: its top in priority order and the total. */
  'queue.updated': (queue: QueueList) => void
  /** Slots were taken or freed (`GET /api/pool`). */
  'pool.updated': (pool: PoolState) => void
  /** An alert was raised: the dashboard re-reads its figures. */
  'alert.created': (payload: unknown) => void
}

/** The app emits nothing to the server yet. */
export type ClientToServerEvents = Record<string, never>
