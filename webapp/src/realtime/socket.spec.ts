import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { closeRealtime, openRealtime, realtimeStatus, reconnectRealtime } from './socket'
import { usePositionsStore } from '@/stores/positions'
import { makeGroup, makeOrderUpdate } from '@/testing/groups'

type Handler = (...args: unknown[]) => void

/** A stand-in for socket.io-client's Socket: records handlers and calls. */
const fake = vi.hoisted(() => {
  const handlers = new Map<string, Handler>()
  const socket = {
    auth: {} as unknown,
    active: true,
    on: (event: string, handler: Handler) => {
      handlers.set(event, handler)
      return socket
    },
    connect: vi.fn(() => socket),
    disconnect: vi.fn(() => socket),
    removeAllListeners: vi.fn(() => socket),
  }
  return {
    socket,
    handlers,
    io: vi.fn((options: { auth: unknown }) => {
      socket.auth = options.auth
      return socket
    }),
  }
})

vi.mock('socket.io-client', () => ({ io: fake.io }))
vi.mock('@/api/client', () => ({ refreshAccessToken: vi.fn(() => Promise.resolve('fresh')) }))

function emit(event: string, ...args: unknown[]): void {
  fake.handlers.get(event)?.(...args)
}

describe('realtime socket', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    fake.io.mockClear()
    fake.handlers.clear()
  })

  afterEach(() => closeRealtime())

  it('connects once, same origin, with the access token and websocket first', () => {
    openRealtime('tok-1')
    fake.socket.disconnect.mockClear()
    openRealtime('tok-1')

    expect(fake.io).toHaveBeenCalledTimes(1)
    expect(fake.io).toHaveBeenCalledWith({ auth: { token: 'tok-1' }, transports: ['websocket', 'polling'] })
    expect(fake.socket.disconnect).not.toHaveBeenCalled()
  })

  it('upserts group.updated payloads into the positions store', () => {
    openRealtime('tok-1')
    emit('group.updated', makeGroup({ id: 'g1', symbol: 'XRPUSDT' }))
    usePositionsStore().flushLive() // live updates are applied in batches

    expect(usePositionsStore().groups.map((g) => g.symbol)).toEqual(['XRPUSDT'])
  })

  it('dispatches order.updated payloads into the positions store', () => {
    openRealtime('tok-1')
    const store = usePositionsStore()
    const apply = vi.spyOn(store, 'applyOrderUpdate').mockImplementation(() => {})
    const order = makeOrderUpdate({ group_id: 'g1', pyramid_index: 1, leg: 2, status: 'filled' })

    emit('order.updated', order)

    expect(apply).toHaveBeenCalledWith(order)
  })

  it('reconnects with the fresh token after a refresh', () => {
    openRealtime('tok-1')
    fake.socket.disconnect.mockClear()
    fake.socket.connect.mockClear()

    reconnectRealtime('tok-2')

    expect(fake.socket.auth).toEqual({ token: 'tok-2' })
    expect(fake.socket.disconnect).toHaveBeenCalledTimes(1)
    expect(fake.socket.connect).toHaveBeenCalledTimes(1)
  })

  it('reports live on connect and re-reads the positions after a reconnect', async () => {
    openRealtime('tok-1')
    const store = usePositionsStore()
    const refresh = vi.spyOn(store, 'refresh').mockResolvedValue()

    emit('connect')
    expect(realtimeStatus.value).toBe('live')
    expect(refresh).not.toHaveBeenCalled()

    emit('disconnect')
    emit('connect')
    expect(refresh).toHaveBeenCalledTimes(1)
  })
})
