import type { LogLine } from './logs'
import type { OrderUpdate, PositionGroup } from './positions'
import type { PoolState, QueueList } from './queue'

/** Socket.IO events the server emits that the app listens to (API.md, "Live events"). */
export interface ServerToClientEvents {
  'group.updated': (group: PositionGroup) => void
  /** One order (a DCA leg, or a TP / close / risk order) of a group changed. */
  'order.updated': (order: OrderUpdate) => void
  /** A new system-log line of the signed-in user. */
  'log.created': (line: LogLine) => void
  /** The queue changed: its top in priority order and the total. */
  'queue.updated': (queue: QueueList) => void
  /** Slots were taken or freed. */
  'pool.updated': (pool: PoolState) => void
}

/** The app emits nothing to the server yet. */
export type ClientToServerEvents = Record<string, never>
