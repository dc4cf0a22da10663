import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { watchEffect } from 'vue'
import { LIVE_BATCH_MS, usePositionsStore } from './positions'
import { fetchPositionGroups } from '@/api/positions'
import { ApiError } from '@/api/errors'
import { makeGroup } from '@/testing/groups'
import { POSITIONS_LIST_CAP, type PositionGroup } from '@/types/positions'

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

  it('patches a listed row in place: one event notifies only what reads its changed field', async () => {
    fetchGroups.mockResolvedValueOnce([A, B])
    const store = usePositionsStore()
    await store.load('open')
    const list = store.groups
    const [rowA, rowB] = list as [PositionGroup, PositionGroup]
    const runs = { aPnl: 0, aStatus: 0, bPnl: 0 }
    const stops = [
      watchEffect(() => void (rowA.unrealized_pnl_usd, runs.aPnl++), { flush: 'sync' }),
      watchEffect(() => void (rowA.status, runs.aStatus++), { flush: 'sync' }),
      watchEffect(() => void (rowB.unrealized_pnl_usd, runs.bPnl++), { flush: 'sync' }),
    ]

    store.receive({ ...A, unrealized_pnl_usd: '7.25' })
    store.receive({ ...A, unrealized_pnl_usd: '8.5' }) // same batch: only the newest is written
    await vi.advanceTimersByTimeAsync(LIVE_BATCH_MS)

    expect(store.groups).toBe(list) // no new array: the table does not re-index its rows
    expect(store.groups[0]).toBe(rowA)
    expect(rowA.unrealized_pnl_usd).toBe('8.5')
    expect(runs).toEqual({ aPnl: 2, aStatus: 1, bPnl: 1 }) // first run + one change, A's PnL only
    expect(A.unrealized_pnl_usd).not.toBe('8.5') // the loaded payload itself is not written to
    stops.forEach((stop) => stop())
    vi.useRealTimers()
  })

  it('adds a new group on top with one array replacement, listed rows kept', async () => {
    fetchGroups.mockResolvedValueOnce([A, B])
    const store = usePositionsStore()
    await store.load('open')
    const rowB = store.groups[1]

    store.receive({ ...B, status: 'closing' })
    store.receive(C)
    await vi.advanceTimersByTimeAsync(LIVE_BATCH_MS)

    expect(store.groups.map((g) => g.id)).toEqual(['c', 'a', 'b'])
    expect(store.groups[2]).toBe(rowB)
    expect(rowB?.status).toBe('closing')
    vi.useRealTimers()
  })

  it('keeps a capped list a window: an older unlisted group stays out, a new one goes on top', async () => {
    // The server's newest 1,000, one a minute back from 10:00: the oldest listed opened at 10:00 minus 999 min.
    const start = Date.parse('2026-12-01T10:00:00Z')
    const listed = Array.from({ length: POSITIONS_LIST_CAP }, (_, i) =>
      makeGroup({ id: `g${i}`, created_at: new Date(start - i * 60_000).toISOString() }),
    )
    fetchGroups.mockResolvedValueOnce(listed)
    const store = usePositionsStore()
    await store.load('open')
    const list = store.groups

    const older = makeGroup({ id: 'older', created_at: new Date(start - 1000 * 60_000).toISOString() })
    const fresh = makeGroup({ id: 'fresh', created_at: '2026-12-01T10:05:00Z' })
    store.receive(older) // left out by the cap: not news
    await vi.advanceTimersByTimeAsync(LIVE_BATCH_MS)
    expect(store.groups).toBe(list)
    expect(store.groups.some((g) => g.id === 'older')).toBe(false)

    store.receive(fresh)
    await vi.advanceTimersByTimeAsync(LIVE_BATCH_MS)
    expect(store.groups).toHaveLength(POSITIONS_LIST_CAP + 1)
    expect(store.groups[0]?.id).toBe('fresh')
    vi.useRealTimers()
  })

  it('adds an older group to a list that was not capped (a group that just closed, on Closed)', async () => {
    fetchGroups.mockResolvedValueOnce([makeGroup({ id: 'x', status: 'closed', created_at: '2026-12-01T10:00:00Z' })])
    const store = usePositionsStore()
    await store.load('closed')

    store.receive(makeGroup({ id: 'old', status: 'closed', created_at: '2026-11-01T10:00:00Z' }))
    await vi.advanceTimersByTimeAsync(LIVE_BATCH_MS)

    expect(store.groups.map((g) => g.id)).toEqual(['old', 'x'])
    vi.useRealTimers()
  })
})
