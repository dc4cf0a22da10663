import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { slotCells, useQueueStore } from './queue'
import * as api from '@/api/queue'
import { ApiError } from '@/api/errors'
import type { PoolState, QueuedSignal } from '@/types/queue'

vi.mock('@/api/queue', () => ({ fetchPool: vi.fn(), fetchQueue: vi.fn(), queueAction: vi.fn() }))

function queued(id: string, rank: number, extra: Partial<QueuedSignal> = {}): QueuedSignal {
  return {
    id,
    symbol: 'BTCUSDT',
    timeframe: 60,
    side: 'long',
    entry_price: '64000',
    replacement_count: 0,
    current_loss_percent: '-1.00',
    expected_profit_usd: '30.00',
    queued_at: '2026-12-05T08:00:00.000Z',
    priority_rank: rank,
    is_pyramid_continuation: false,
    ...extra,
  }
}

const FULL: PoolState = { max_open_groups: 3, used: 3, free: 0, groups: ['g1', 'g2', 'g3'] }

describe('queue store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.mocked(api.fetchPool).mockReset()
    vi.mocked(api.fetchQueue).mockReset()
    vi.mocked(api.queueAction).mockReset()
  })

  it('loads the pool and the queue, rows in priority order', async () => {
    vi.mocked(api.fetchPool).mockResolvedValueOnce(FULL)
    vi.mocked(api.fetchQueue).mockResolvedValueOnce({ items: [queued('b', 2), queued('a', 1)], total: 2 })
    const store = useQueueStore()
    await store.load()
    expect(store.items.map((i) => i.id)).toEqual(['a', 'b'])
    expect(store.total).toBe(2)
    expect(store.cells.map((c) => c.state)).toEqual(['held', 'held', 'held'])
    expect(store.loaded).toBe(true)
  })

  it('lets an event that arrived during the load win over the older answer', async () => {
    let answer: (value: { items: QueuedSignal[] }) => void = () => undefined
    vi.mocked(api.fetchPool).mockResolvedValueOnce(FULL)
    vi.mocked(api.fetchQueue).mockReturnValueOnce(new Promise((resolve) => (answer = resolve)))
    const store = useQueueStore()
    const loading = store.load()
    store.onQueueUpdated({ items: [queued('new', 1)], total: 1 })
    answer({ items: [queued('old', 1)] })
    await loading
    expect(store.items.map((i) => i.id)).toEqual(['new'])
  })

  it('replaces the queue and the pool on events', () => {
    const store = useQueueStore()
    store.onQueueUpdated({ items: [queued('c', 3), queued('a', 1), queued('b', 2)], total: 250 })
    expect(store.items.map((i) => i.priority_rank)).toEqual([1, 2, 3])
    expect(store.total).toBe(250)
    store.onPoolUpdated({ ...FULL, used: 1, free: 2, groups: ['g1'] })
    expect(store.cells.map((c) => c.state)).toEqual(['held', 'free', 'free'])
  })

  it('drops a promoted row at once and keeps it when the server refuses', async () => {
    const store = useQueueStore()
    store.onQueueUpdated({ items: [queued('a', 1), queued('b', 2)] })
    vi.mocked(api.queueAction).mockResolvedValueOnce({ id: 'a', status: 'promoted', group_id: 'g9' })
    await store.act('a', 'promote')
    expect(api.queueAction).toHaveBeenCalledWith('a', 'promote')
    expect(store.items.map((i) => i.id)).toEqual(['b'])
    vi.mocked(api.queueAction).mockRejectedValueOnce(new ApiError(409, 'conflict', 'the pool is full'))
    await expect(store.act('b', 'promote')).rejects.toThrow('the pool is full')
    expect(store.items.map((i) => i.id)).toEqual(['b'])
    expect(store.busy).toEqual({})
  })
})

describe('slotCells', () => {
  it('draws held, forced-over-the-limit and free slots', () => {
    const cells = slotCells({
      max_open_groups: 2,
      used: 3,
      free: 0,
      groups: ['g1', 'g2', 'g3'],
      over_limit: 1,
      slots: [
        { slot_id: 'g1', group_id: 'g1', forced: false },
        { slot_id: 'g2', group_id: 'g2', forced: false },
        { slot_id: 's3', group_id: 'g3', forced: true },
      ],
    })
    expect(cells.map((c) => c.state)).toEqual(['held', 'held', 'forced'])
    expect(slotCells({ max_open_groups: 2, used: 0, free: 2, groups: [] }).map((c) => c.state)).toEqual([
      'free',
      'free',
    ])
    expect(slotCells(null)).toEqual([])
  })
})
