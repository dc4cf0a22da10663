/**
 * The app's single Socket.IO connection (same origin, path `/socket.io`).
 *
 * Opened after sign-in with the access token, re-opened with the fresh token after a refresh,
 * closed on sign-out. Server events are dispatched into the Pinia stores.
 */
import { io, type Socket } from 'socket.io-client'
import { readonly, ref } from 'vue'
import { refreshAccessToken } from '@/api/client'
import { useDashboardStore } from '@/stores/dashboard'
import { useLogsStore } from '@/stores/logs'
import { useOnboardingStore } from '@/stores/onboarding'
import { usePerformanceStore } from '@/stores/performance'
import { usePositionsStore } from '@/stores/positions'
import { useQueueStore } from '@/stores/queue'
import { useRiskStore } from '@/stores/risk'
import type { ClientToServerEvents, ServerToClientEvents } from '@/types/events'

export type RealtimeStatus = 'offline' | 'connecting' | 'live' | 'refused'

type EngineSocket = Socket<ServerToClientEvents, ClientToServerEvents>

let socket: EngineSocket | null = null
/** Set once connected: a later `connect` is a reconnect, after which lists are re-read. */
let wasConnected = false
/** One token refresh per refusal, so a server that keeps refusing cannot cause a loop. */
let refreshedAfterRefusal = false

const status = ref<RealtimeStatus>('offline')
/** Connection state for the header's live indicator. */
export const realtimeStatus = readonly(status)

function dispatchServerEvents(s: EngineSocket): void {
  s.on('group.updated', (group) => {
    usePositionsStore().receive(group)
    usePerformanceStore().onGroupUpdated(group)
    useDashboardStore().onChange()
    useOnboardingStore().onGroupUpdated(group)
  })
  s.on('order.updated', (order) => usePositionsStore().applyOrderUpdate(order))
  s.on('log.created', (line) => {
    useLogsStore().receive(line)
    useDashboardStore().onLogCreated(line)
  })
  s.on('risk.updated', (notice) => {
    useRiskStore().onUpdated(notice)
    useDashboardStore().onChange()
  })
  s.on('risk.action', (action) => {
    useRiskStore().receiveAction(action)
    useDashboardStore().onChange()
  })
  s.on('engine.status', (status) => useDashboardStore().onEngineStatus(status))
  s.on('queue.updated', (list) => {
    useQueueStore().onQueueUpdated(list)
    useDashboardStore().onChange()
  })
  s.on('pool.updated', (pool) => {
    useQueueStore().onPoolUpdated(pool)
    useDashboardStore().onPoolUpdated({ used: pool.used, max: pool.max_open_groups })
  })
  s.on('alert.created', () => useDashboardStore().onChange())
}

function watchConnection(s: EngineSocket): void {
  s.on('connect', () => {
    status.value = 'live'
    refreshedAfterRefusal = false
    // Events emitted while we were away are lost: re-read what is on screen.
    if (wasConnected) {
      void usePositionsStore().refresh()
      void useLogsStore().refresh()
      void useDashboardStore().refresh()
      useRiskStore().refresh()
      if (useQueueStore().loaded) void useQueueStore().load()
    }
    wasConnected = true
  })
  s.on('disconnect', () => {
    status.value = s.active ? 'connecting' : 'offline'
  })
  s.on('connect_error', () => {
    if (s.active) {
      status.value = 'connecting' // transport trouble: socket.io retries by itself
      return
    }
    // The server refused the handshake, most likely an expired access token.
    status.value = 'refused'
    if (refreshedAfterRefusal) return
    refreshedAfterRefusal = true
    // A successful refresh calls reconnectRealtime() through the client's hook.
    refreshAccessToken().catch(() => undefined)
  })
}

/** Opens the connection; an open one is kept for the same token, re-authenticated for a new one. */
export function openRealtime(token: string): void {
  if (socket) {
    if ((socket.auth as { token?: string }).token !== token) reconnectRealtime(token)
    return
  }
  status.value = 'connecting'
  socket = io({ auth: { token }, transports: ['websocket', 'polling'] })
  dispatchServerEvents(socket)
  watchConnection(socket)
}

/** Reconnects with a fresh access token; the server checks the token at connect time only. */
export function reconnectRealtime(token: string): void {
  if (!socket) return
  socket.auth = { token }
  socket.disconnect().connect()
  status.value = 'connecting'
}

/** Closes the connection (sign-out). */
export function closeRealtime(): void {
  socket?.removeAllListeners()
  socket?.disconnect()
  socket = null
  wasConnected = false
  refreshedAfterRefusal = false
  status.value = 'offline'
}
