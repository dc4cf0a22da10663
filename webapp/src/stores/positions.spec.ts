import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { LIVE_BATCH_MS, usePositionsStore } from './positions'
import { fetchPositionGroups } from '@/api/positions'
import { ApiError } from '@/api/errors'
import { makeGroup } from '@/testing/groups'
import type { PositionGroup } from '@/types/positions'

vi.mock('@/api/positions', () => ({ fetchPositionGroups: vi.fn(), fetchPositionDetail: vi.fn(), closePosition: vi.fn() }))
const fetchGroups = vi.mocked(fetchPositionGroups)

const A = makeGroup({ id: 'a', symbol: 'BTCUSDT' })
const B = makeGroup({ id: 'b', symbol: 'ETHUSDT' })
const C = makeGroup({ id: 'c', symbol: 'SOLUSDT' })

describe('positions store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    fetchGroups.mockReset()
  })

  it('loads the groups for a filter', async () => {
    fetchGroups.mockResolvedValueOnce([A, B])
    const store = usePositionsStore()

    await store.load('all')

    expect(fetchGroups).toHaveBeenCalledWith('all')
    expect(store.groups.map((g) => g.id)).toEqual(['a', 'b'])
    expect(store.filter).toBe('all')
    expect(store.loaded).toBe(true)
    expect(store.loading).toBe(false)
  })

  it('upsert puts a new group at the top', async () => {
    fetchGroups.mockResolvedValueOnce([A, B])
    const store = usePositionsStore()
    await store.load('open')

    store.upsert(C)

    expect(store.groups.map((g) => g.id)).toEqual(['c', 'a', 'b'])
  })

  it('upsert replaces an existing group where it stands', async () => {
    fetchGroups.mockResolvedValueOnce([A, B, C])
    const store = usePositionsStore()
    await store.load('open')

    store.upsert({ ...B, status: 'closing', unrealized_pnl_usd: '12.5' })

    expect(store.groups.map((g) => g.id)).toEqual(['a', 'b', 'c'])
    expect(store.groups[1]).toMatchObject({ id: 'b', status: 'closing', unrealized_pnl_usd: '12.5' })
    expect(store.groups).toHaveLength(3)
  })

  it('does not insert a group the current filter hides, but keeps one it already shows', async () => {
    fetchGroups.mockResolvedValueOnce([A])
    const store = usePositionsStore()
    await store.load('open')

    store.upsert(makeGroup({ id: 'old', status: 'closed' }))
    store.upsert({ ...A, status: 'closed' })

    expect(store.groups.map((g) => [g.id, g.status])).toEqual([['a', 'closed']])
  })

  it('re-applies updates that arrived while a load was in flight', async () => {
    let answer: (groups: typeof A[]) => void = () => {}
    fetchGroups.mockReturnValueOnce(new Promise((resolve) => (answer = resolve)))
    const store = usePositionsStore()

    const loading = store.load('open')
    store.upsert({ ...A, status: 'closing' })
    store.upsert(C)
    answer([A, B])
    await loading

    expect(store.groups.map((g) => [g.id, g.status])).toEqual([
      ['c', 'active'],
      ['a', 'closing'],
      ['b', 'active'],
    ])
  })

  it('ignores an older answer that arrives after a newer filter was chosen', async () => {
    let slowAnswer: (groups: typeof A[]) => void = () => {}
    fetchGroups
      .mockReturnValueOnce(new Promise((resolve) => (slowAnswer = resolve)))
      .mockResolvedValueOnce([C])
    const store = usePositionsStore()

    const first = store.load('open')
    await store.load('closed')
    slowAnswer([A, B])
    await first

    expect(store.filter).toBe('closed')
    expect(store.groups.map((g) => g.id)).toEqual(['c'])
  })

  it('keeps the error and clears loading when the load fails', async () => {
    fetchGroups.mockRejectedValueOnce(new ApiError(503, 'dependency_down', 'database unavailable'))
    const store = usePositionsStore()

    await store.load('open')

    expect(store.error).toMatchObject({ status: 503, message: 'database unavailable' })
    expect(store.loading).toBe(false)
    expect(store.loaded).toBe(false)
  })
})

describe('positions store, live batches', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    fetchGroups.mockReset()
    vi.useFakeTimers()
  })

  it('applies a burst of group.updated in one list replacement, newest values, arrival order', async () => {
    fetchGroups.mockResolvedValueOnce([A, B])
    const store = usePositionsStore()
    await store.load('open')
    const before = store.groups

    store.receive({ ...A, unrealized_pnl_usd: '1' })
    store.receive(C)
    store.receive({ ...A, unrealized_pnl_usd: '2' })
    const D = makeGroup({ id: 'd', symbol: 'XRPUSDT' })
    store.receive(D)
    expect(store.groups).toBe(before) // nothing yet: the batch waits
    await vi.advanceTimersByTimeAsync(LIVE_BATCH_MS)

    expect(store.groups.map((g) => g.id)).toEqual(['d', 'c', 'a', 'b'])
    expect(store.groups.find((g) => g.id === 'a')?.unrealized_pnl_usd).toBe('2')
    vi.useRealTimers()
  })

  it('keeps live updates that arrive while a load is in flight', async () => {
    let answer: (groups: PositionGroup[]) => void = () => {}
    fetchGroups.mockReturnValueOnce(new Promise((resolve) => (answer = resolve)))
    const store = usePositionsStore()
    const loading = store.load('open')
    store.receive({ ...B, unrealized_pnl_usd: '9' })
    store.flushLive()
    answer([A, B])
    await loading
    expect(store.groups.find((g) => g.id === 'b')?.unrealized_pnl_usd).toBe('9')
    vi.useRealTimers()
  })
})
