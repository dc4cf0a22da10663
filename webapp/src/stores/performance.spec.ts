import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { CLOSE_RELOAD_DELAY_MS, usePerformanceStore } from './performance'
import { downloadTradesCsv, fetchPerformance } from '@/api/performance'
import { ApiError } from '@/api/errors'
import { makePerformance } from '@/components/performance/testing'

vi.mock('@/api/performance', () => ({ fetchPerformance: vi.fn(), downloadTradesCsv: vi.fn() }))
const fetchMock = vi.mocked(fetchPerformance)
const downloadMock = vi.mocked(downloadTradesCsv)

const TODAY = new Date('2026-11-22T13:00:00Z')

function store() {
  const s = usePerformanceStore()
  s.useClock(() => TODAY)
  return s
}

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

describe('performance store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    fetchMock.mockReset()
    downloadMock.mockReset()
  })

  afterEach(() => vi.useRealTimers())

  it('loads the last 30 UTC days by default', async () => {
    fetchMock.mockResolvedValueOnce(makePerformance())
    const s = store()

    await s.load()

    expect(fetchMock).toHaveBeenCalledWith({ from: '2026-10-24', to: '2026-11-22' })
    expect(s.loaded).toBe(true)
    expect(s.loading).toBe(false)
    expect(s.hasTrades).toBe(true)
    expect(s.data?.profit_factor).toBe('2.6')
  })

  it('a preset or custom range reloads with its days', async () => {
    fetchMock.mockResolvedValue(makePerformance())
    const s = store()

    await s.setPreset('7d')
    await s.setPreset('all')
    await s.setCustom({ from: '2026-03-01', to: '2026-03-31' })

    expect(fetchMock.mock.calls.map((call) => call[0])).toEqual([
      { from: '2026-11-16', to: '2026-11-22' },
      { from: null, to: null },
      { from: '2026-03-01', to: '2026-03-31' },
    ])
    expect(s.preset).toBe('custom')
  })

  it('choosing Custom waits for dates before asking', async () => {
    const s = store()
    await s.setPreset('custom')
    expect(fetchMock).not.toHaveBeenCalled()
  })

  it('an older answer arriving late does not replace a newer one', async () => {
    const slow = deferred<ReturnType<typeof makePerformance>>()
    fetchMock.mockReturnValueOnce(slow.promise).mockResolvedValueOnce(makePerformance({ win_rate: '75' }))
    const s = store()

    const first = s.setPreset('7d')
    await s.setPreset('90d')
    slow.resolve(makePerformance({ win_rate: '10' }))
    await first

    expect(s.data?.win_rate).toBe('75')
  })

  it('keeps the last figures and shows the error when a reload fails', async () => {
    fetchMock.mockResolvedValueOnce(makePerformance())
    const s = store()
    await s.load()
    fetchMock.mockRejectedValueOnce(new ApiError(503, 'service_unavailable', 'database unavailable'))

    await s.load()

    expect(s.error?.status).toBe(503)
    expect(s.data?.trades.count).toBe(6)
    expect(s.loading).toBe(false)
  })

  it('reloads once, shortly after, when groups close; other updates change nothing', async () => {
    vi.useFakeTimers()
    fetchMock.mockResolvedValue(makePerformance())
    const s = store()
    await s.load()
    fetchMock.mockClear()

    s.onGroupUpdated({ status: 'active' })
    s.onGroupUpdated({ status: 'closing' })
    s.onGroupUpdated({ status: 'closed' })
    s.onGroupUpdated({ status: 'closed' })
    expect(fetchMock).not.toHaveBeenCalled()

    await vi.advanceTimersByTimeAsync(CLOSE_RELOAD_DELAY_MS)
    expect(fetchMock).toHaveBeenCalledTimes(1)

    s.onGroupUpdated({ status: 'closed' })
    await vi.advanceTimersByTimeAsync(CLOSE_RELOAD_DELAY_MS)
    expect(fetchMock).toHaveBeenCalledTimes(2)
  })

  it('ignores closes until the page has been shown', async () => {
    vi.useFakeTimers()
    const s = store()
    s.onGroupUpdated({ status: 'closed' })
    await vi.advanceTimersByTimeAsync(CLOSE_RELOAD_DELAY_MS * 2)
    await s.refresh()
    expect(fetchMock).not.toHaveBeenCalled()
  })

  it('exports the closed trades of the current range', async () => {
    downloadMock.mockResolvedValueOnce('trades-alice-2026-11-16_2026-11-22.csv')
    const s = store()
    fetchMock.mockResolvedValue(makePerformance())
    await s.setPreset('7d')

    const name = await s.exportCsv()

    expect(downloadMock).toHaveBeenCalledWith({ from: '2026-11-16', to: '2026-11-22' })
    expect(name).toBe('trades-alice-2026-11-16_2026-11-22.csv')
    expect(s.exporting).toBe(false)
  })

  it('no closed trade in the range is the empty state', async () => {
    fetchMock.mockResolvedValueOnce(
      makePerformance({
        trades: { count: 0, wins: 0, losses: 0, breakeven: 0, realized: '0', gross_profit: '0', gross_loss: '0' },
      }),
    )
    const s = store()
    await s.load()
    expect(s.hasTrades).toBe(false)
  })
})
