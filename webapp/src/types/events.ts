import type { PositionGroup } from './positions'

/** Socket.IO events the server emits that the app listens to (API.md, "Live events"). */
export interface ServerToClientEvents {
  'group.updated': (group: PositionGroup) => void
}

/** The app emits nothing to the server yet. */
export type ClientToServerEvents = Record<string, never>
