import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import {
  LIVE_FLUSH_MS,
  PAGE_SIZE,
  emptyFilters,
  matchesFilters,
  mergeLines,
  normaliseSymbol,
  useLogsStore,
} from './logs'
import * as api from '@/api/logs'
import type { LogLine } from '@/types/logs'

vi.mock('@/api/logs', () => ({
  fetchLogs: vi.fn(),
  acknowledgeLog: vi.fn(),
  acknowledgeAllLogs: vi.fn(),
}))
const fetchLogs = vi.mocked(api.fetchLogs)
const acknowledgeLog = vi.mocked(api.acknowledgeLog)

/** Line `n` at second n of the minute (higher n = newer). */
function line(n: number, extra: Partial<LogLine> = {}): LogLine {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    created_at: `2026-11-21T10:00:${String(n).padStart(2, '0')}.000Z`,
    level: 'INFO',
    category: 'ORDER',
    message: `line ${n}`,
    symbol: null,
    context: {},
    acknowledged: false,
    user_id: 'u',
    ...extra,
  }
}

const newestFirst = (...ns: number[]) => ns.map((n) => line(n))
const ids = (lines: readonly LogLine[]) => lines.map((l) => l.message)

describe('mergeLines', () => {
  it('appends an older page without sorting and drops lines already shown', () => {
    const current = newestFirst(9, 8, 7)
    const merged = mergeLines(current, newestFirst(7, 6, 5))
    expect(ids(merged)).toEqual(['line 9', 'line 8', 'line 7', 'line 6', 'line 5'])
    expect(merged[0]).toBe(current[0])
  })

  it('prepends newer lines', () => {
    expect(ids(mergeLines(newestFirst(5, 4), [line(7), line(6)]))).toEqual(['line 7', 'line 6', 'line 5', 'line 4'])
  })

  it('sorts an overlapping batch into place, ties by id', () => {
    const tie = line(6, { id: '00000000-0000-4000-8000-ffffffffffff', message: 'tie' })
    expect(ids(mergeLines(newestFirst(8, 6, 4), [line(5), tie, line(9)]))).toEqual([
      'line 9',
      'line 8',
      'tie',
      'line 6',
      'line 5',
      'line 4',
    ])
  })

  it('returns the same array when nothing is new', () => {
    const current = newestFirst(3, 2)
    expect(mergeLines(current, [line(3)])).toBe(current)
  })
})

describe('live filters', () => {
  it('match level, category, symbol, text and time like the server', () => {
    const l = line(30, { level: 'ERROR', category: 'ORDER', symbol: 'BTCUSDT', message: 'Leg 2 Rejected' })
    expect(matchesFilters(l, emptyFilters())).toBe(true)
    expect(matchesFilters(l, { ...emptyFilters(), levels: ['ERROR', 'CRITICAL'] })).toBe(true)
    expect(matchesFilters(l, { ...emptyFilters(), levels: ['INFO'] })).toBe(false)
    expect(matchesFilters(l, { ...emptyFilters(), categories: ['RISK'] })).toBe(false)
    expect(matchesFilters(l, { ...emptyFilters(), symbol: 'btc/usdt' })).toBe(true)
    expect(matchesFilters(l, { ...emptyFilters(), q: 'rejected' })).toBe(true)
    expect(matchesFilters(l, { ...emptyFilters(), to: '2026-11-21T10:00:30.000Z' })).toBe(false) // `to` excludes
    expect(normaliseSymbol('BINANCE:BTCUSDT.P')).toBe('BTCUSDT')
  })
})

describe('logs store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
    fetchLogs.mockReset()
    acknowledgeLog.mockReset()
  })

  afterEach(() => vi.useRealTimers())

  it('reads the first page for the filters, then older pages by cursor', async () => {
    const store = useLogsStore()
    fetchLogs.mockResolvedValueOnce({ items: newestFirst(9, 8), next_cursor: 'c1' })
    await store.load({ ...emptyFilters(), categories: ['ORDER'] })
    expect(fetchLogs).toHaveBeenLastCalledWith(
      expect.objectContaining({ categories: ['ORDER'] }),
      { limit: PAGE_SIZE },
    )

    fetchLogs.mockResolvedValueOnce({ items: newestFirst(8, 7, 6), next_cursor: null })
    await store.loadMore()
    expect(fetchLogs).toHaveBeenLastCalledWith(expect.anything(), { limit: PAGE_SIZE, cursor: 'c1' })
    expect(ids(store.lines)).toEqual(['line 9', 'line 8', 'line 7', 'line 6'])
    expect(store.nextCursor).toBeNull()

    await store.loadMore() // nothing older
    expect(fetchLogs).toHaveBeenCalledTimes(2)
  })

  it('asks for one page at a time', async () => {
    const store = useLogsStore()
    fetchLogs.mockResolvedValueOnce({ items: newestFirst(9), next_cursor: 'c1' })
    await store.load()
    let answer: (page: { items: LogLine[]; next_cursor: string | null }) => void = () => {}
    fetchLogs.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)))
    void store.loadMore()
    void store.loadMore()
    answer({ items: newestFirst(8), next_cursor: null })
    await vi.runAllTimersAsync()
    expect(fetchLogs).toHaveBeenCalledTimes(2)
    expect(ids(store.lines)).toEqual(['line 9', 'line 8'])
  })

  it('ignores an answer for filters that were replaced meanwhile', async () => {
    const store = useLogsStore()
    let first: (page: { items: LogLine[]; next_cursor: string | null }) => void = () => {}
    fetchLogs.mockImplementationOnce(() => new Promise((resolve) => (first = resolve)))
    void store.load({ ...emptyFilters(), q: 'old' })
    fetchLogs.mockResolvedValueOnce({ items: newestFirst(2), next_cursor: null })
    await store.load({ ...emptyFilters(), q: 'new' })
    first({ items: newestFirst(1), next_cursor: 'x' })
    await vi.runAllTimersAsync()
    expect(ids(store.lines)).toEqual(['line 2'])
    expect(store.nextCursor).toBeNull()
  })

  it('merges live lines that match the filters, batched, and counts those put on top', async () => {
    const store = useLogsStore()
    fetchLogs.mockResolvedValueOnce({ items: newestFirst(5), next_cursor: null })
    await store.load({ ...emptyFilters(), categories: ['ORDER'] })

    store.receive(line(6))
    store.receive(line(7, { category: 'RISK' }))
    store.receive(line(8))
    expect(ids(store.lines)).toEqual(['line 5']) // not yet: batched
    await vi.advanceTimersByTimeAsync(LIVE_FLUSH_MS)
    expect(ids(store.lines)).toEqual(['line 8', 'line 6', 'line 5'])
    expect(store.prepended).toEqual({ seq: 1, count: 2 })
  })

  it('pins live warnings and errors as alerts, and acknowledges them', async () => {
    const store = useLogsStore()
    fetchLogs.mockResolvedValueOnce({ items: [], next_cursor: null })
    await store.load()
    const error = line(4, { level: 'ERROR' })
    store.receive(error)
    store.receive(line(5, { level: 'INFO' }))
    store.flushLive()
    expect(ids(store.alerts)).toEqual(['line 4'])

    acknowledgeLog.mockResolvedValueOnce({ ...error, acknowledged: true })
    await store.acknowledge(error.id)
    expect(store.alerts).toEqual([])
    expect(store.lines.find((l) => l.id === error.id)?.acknowledged).toBe(true)
  })

  it('keeps live lines that arrive while the first page loads', async () => {
    const store = useLogsStore()
    let answer: (page: { items: LogLine[]; next_cursor: string | null }) => void = () => {}
    fetchLogs.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)))
    const loading = store.load()
    store.receive(line(9))
    store.flushLive()
    answer({ items: newestFirst(8, 7), next_cursor: null })
    await loading
    expect(ids(store.lines)).toEqual(['line 9', 'line 8', 'line 7'])
  })
})
