import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { DETAIL_REFRESH_DELAY_MS, usePositionsStore } from './positions'
import { closePosition, fetchPositionDetail, fetchPositionGroups } from '@/api/positions'
import { ApiError } from '@/api/errors'
import { makeDetail, makeGroup, makeLeg, makeOrderUpdate, makePyramid } from '@/testing/groups'
import type { PositionDetail } from '@/types/positions'

vi.mock('@/api/positions', () => ({
  fetchPositionGroups: vi.fn(),
  fetchPositionDetail: vi.fn(),
  closePosition: vi.fn(),
}))
const fetchGroups = vi.mocked(fetchPositionGroups)
const fetchDetail = vi.mocked(fetchPositionDetail)
const close = vi.mocked(closePosition)

const ID = '00000000-0000-4000-8000-000000000001'

/** Two pyramids whose legs share leg numbers: a merge must pick the right pyramid. */
function twoPyramids(): PositionDetail {
  return makeDetail({
    id: ID,
    pyramids: [
      makePyramid({
        index: 0,
        legs: [
          makeLeg({ leg: 0, client_order_id: 'p0-l0', status: 'filled', filled_quantity: '0.00062' }),
          makeLeg({ leg: 1, client_order_id: 'p0-l1', status: 'open' }),
        ],
      }),
      makePyramid({
        index: 1,
        legs: [
          makeLeg({ leg: 0, client_order_id: 'p1-l0', status: 'open' }),
          makeLeg({ leg: 1, client_order_id: 'p1-l1', status: 'open' }),
        ],
      }),
    ],
  })
}

function legsOf(detail: PositionDetail | null | undefined): string[][] {
  return (detail?.pyramids ?? []).map((p) => p.legs.map((l) => `${p.index}.${l.leg}:${l.status}:${l.filled_quantity}`))
}

function deferred<T>() {
  let resolve: (value: T) => void = () => {}
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

describe('positions store — group detail', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    fetchGroups.mockReset()
    fetchDetail.mockReset()
    close.mockReset()
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('fetches a detail once and reuses it on later expands', async () => {
    fetchDetail.mockResolvedValue(twoPyramids())
    const store = usePositionsStore()

    // Two expands at once share one request.
    await Promise.all([store.openDetail(ID), store.openDetail(ID)])
    store.closeDetail(ID)
    await store.openDetail(ID)

    expect(fetchDetail).toHaveBeenCalledTimes(1)
    expect(fetchDetail).toHaveBeenCalledWith(ID)
    expect(store.details[ID]?.data?.pyramids).toHaveLength(2)
    expect(store.details[ID]?.loading).toBe(false)
  })

  it('merges order.updated into the right pyramid and leg of a loaded detail', async () => {
    fetchDetail.mockResolvedValue(twoPyramids())
    const store = usePositionsStore()
    await store.openDetail(ID)

    // Matched by pyramid and leg (no client order id in the payload).
    store.applyOrderUpdate(
      makeOrderUpdate({
        group_id: ID,
        pyramid_index: 1,
        leg: 1,
        client_order_id: null,
        status: 'partially_filled',
        filled_quantity: '0.00031',
        avg_fill_price: '63600.1',
      }),
    )

    expect(legsOf(store.details[ID]?.data)).toEqual([
      ['0.0:filled:0.00062', '0.1:open:0'],
      ['1.0:open:0', '1.1:partially_filled:0.00031'],
    ])
    const leg = store.details[ID]?.data?.pyramids[1]?.legs[1]
    expect(leg).toMatchObject({ avg_fill_price: '63600.1', client_order_id: 'p1-l1' })
    expect(leg).not.toHaveProperty('group_id')
    expect(leg).not.toHaveProperty('pyramid_index')
  })

  it('matches an order by its client order id first', async () => {
    fetchDetail.mockResolvedValue(twoPyramids())
    const store = usePositionsStore()
    await store.openDetail(ID)

    // The routing numbers disagree; the client order id names the order exactly.
    store.applyOrderUpdate(
      makeOrderUpdate({ group_id: ID, pyramid_index: 0, leg: 0, client_order_id: 'p1-l0', status: 'filled' }),
    )

    expect(legsOf(store.details[ID]?.data)).toEqual([
      ['0.0:filled:0.00062', '0.1:open:0'],
      ['1.0:filled:0', '1.1:open:0'],
    ])
  })

  it('does not write a take-profit order over the entry leg it belongs to', async () => {
    fetchDetail.mockResolvedValue(twoPyramids())
    const store = usePositionsStore()
    await store.openDetail(ID)

    store.applyOrderUpdate(
      makeOrderUpdate({ group_id: ID, pyramid_index: 0, leg: 0, client_order_id: 'p0-l0-tp', purpose: 'tp', status: 'open' }),
    )

    expect(store.details[ID]?.data?.pyramids[0]?.legs[0]?.status).toBe('filled')
  })

  it('ignores order.updated for a group whose detail was never loaded', () => {
    const store = usePositionsStore()

    store.applyOrderUpdate(makeOrderUpdate({ group_id: 'elsewhere' }))

    expect(store.details).toEqual({})
    expect(fetchDetail).not.toHaveBeenCalled()
  })

  it('re-applies an order update that arrived while the detail was loading', async () => {
    const answer = deferred<PositionDetail>()
    fetchDetail.mockReturnValueOnce(answer.promise)
    const store = usePositionsStore()

    const opening = store.openDetail(ID)
    store.applyOrderUpdate(
      makeOrderUpdate({ group_id: ID, pyramid_index: 0, leg: 1, client_order_id: 'p0-l1', status: 'filled', filled_quantity: '0.00062' }),
    )
    answer.resolve(twoPyramids())
    await opening

    expect(store.details[ID]?.data?.pyramids[0]?.legs[1]).toMatchObject({ status: 'filled', filled_quantity: '0.00062' })
  })

  it('re-reads an expanded detail once after a burst of order events', async () => {
    vi.useFakeTimers()
    fetchDetail.mockResolvedValue(twoPyramids())
    const store = usePositionsStore()
    await store.openDetail(ID)

    for (const filled of ['0.0001', '0.0002', '0.0003']) {
      store.applyOrderUpdate(makeOrderUpdate({ group_id: ID, pyramid_index: 0, leg: 1, client_order_id: 'p0-l1', filled_quantity: filled }))
    }
    expect(fetchDetail).toHaveBeenCalledTimes(1) // merged at once, the re-read waits
    expect(store.details[ID]?.data?.pyramids[0]?.legs[1]?.filled_quantity).toBe('0.0003')

    await vi.advanceTimersByTimeAsync(DETAIL_REFRESH_DELAY_MS)
    expect(fetchDetail).toHaveBeenCalledTimes(2)
  })

  it('marks a collapsed detail stale instead of re-reading it, and re-reads on the next expand', async () => {
    vi.useFakeTimers()
    fetchDetail.mockResolvedValue(twoPyramids())
    const store = usePositionsStore()
    await store.openDetail(ID)
    store.closeDetail(ID)

    store.applyOrderUpdate(makeOrderUpdate({ group_id: ID, pyramid_index: 0, leg: 1, client_order_id: 'p0-l1', status: 'filled' }))
    await vi.advanceTimersByTimeAsync(DETAIL_REFRESH_DELAY_MS * 2)
    expect(fetchDetail).toHaveBeenCalledTimes(1)
    expect(store.details[ID]?.stale).toBe(true)

    await store.openDetail(ID)
    expect(fetchDetail).toHaveBeenCalledTimes(2)
    expect(store.details[ID]?.stale).toBe(false)
  })

  it('merges group.updated into the detail; only a change beyond the PnL tick re-reads it', async () => {
    vi.useFakeTimers()
    const detail = twoPyramids()
    fetchDetail.mockResolvedValue(detail)
    fetchGroups.mockResolvedValue([makeGroup({ id: ID })])
    const store = usePositionsStore()
    await store.load('open')
    await store.openDetail(ID)

    store.upsert(makeGroup({ id: ID, unrealized_pnl_usd: '5.5', unrealized_pnl_percent: '2.75' }))
    await vi.advanceTimersByTimeAsync(DETAIL_REFRESH_DELAY_MS)
    expect(store.details[ID]?.data?.unrealized_pnl_usd).toBe('5.5')
    expect(store.details[ID]?.data?.pyramids).toHaveLength(2) // pyramids kept
    expect(fetchDetail).toHaveBeenCalledTimes(1)

    store.upsert(makeGroup({ id: ID, unrealized_pnl_usd: '5.5', unrealized_pnl_percent: '2.75', status: 'closing' }))
    expect(store.details[ID]?.data?.status).toBe('closing')
    await vi.advanceTimersByTimeAsync(DETAIL_REFRESH_DELAY_MS)
    expect(fetchDetail).toHaveBeenCalledTimes(2)
  })

  it('keeps the error of a failed load and reads again on retry', async () => {
    fetchDetail
      .mockRejectedValueOnce(new ApiError(404, 'not_found', 'position group not found'))
      .mockResolvedValueOnce(twoPyramids())
    const store = usePositionsStore()

    await store.openDetail(ID)
    expect(store.details[ID]?.error).toMatchObject({ status: 404, message: 'position group not found' })
    expect(store.details[ID]?.data).toBeNull()

    await store.loadDetail(ID, { force: true })
    expect(store.details[ID]?.error).toBeNull()
    expect(store.details[ID]?.data?.pyramids).toHaveLength(2)
  })

  it('forgets details on reset, dropping answers still on their way', async () => {
    const answer = deferred<PositionDetail>()
    fetchDetail.mockReturnValueOnce(answer.promise)
    const store = usePositionsStore()

    const opening = store.openDetail(ID)
    store.reset()
    answer.resolve(twoPyramids())
    await opening

    expect(store.details).toEqual({})
  })

  it('closeGroup posts the close and reports it in flight meanwhile', async () => {
    const answer = deferred<{ message?: string }>()
    close.mockReturnValueOnce(answer.promise)
    const store = usePositionsStore()

    const closing = store.closeGroup(ID)
    expect(store.closing[ID]).toBe(true)
    answer.resolve({})
    await closing

    expect(close).toHaveBeenCalledWith(ID)
    expect(store.closing[ID]).toBeUndefined()
  })
})
