import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import * as logsApi from '@/api/logs'
import { ApiError } from '@/api/errors'
import { ALERT_LEVELS, type LogFilters, type LogLine } from '@/types/logs'

/** Lines per page read from the engine (the list asks for the next page near its end). */
export const PAGE_SIZE = 500
/** Unacknowledged alerts pinned above the list. */
export const ALERTS_LIMIT = 50
/** Live lines are buffered and merged at most this often (50 events/s stay one update per tick). */
export const LIVE_FLUSH_MS = 200

export function emptyFilters(): LogFilters {
  return { levels: [], categories: [], q: '', symbol: '', from: null, to: null }
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/** Newest first, as the engine pages: `created_at` descending, then `id` descending. */
export function compareNewestFirst(a: LogLine, b: LogLine): number {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1
  return a.id === b.id ? 0 : a.id < b.id ? 1 : -1
}

/**
 * `incoming` merged into `current` (both newest first): an older page is appended and newer lines
 * prepended without a lookup; anything overlapping is deduplicated by id and sorted. Returns
 * `current` itself when nothing is new.
 */
export function mergeLines(current: readonly LogLine[], incoming: readonly LogLine[]): LogLine[] {
  if (incoming.length === 0) return current as LogLine[]
  const batch = dedupe([...incoming].sort(compareNewestFirst))
  const first = current[0]
  const last = current[current.length - 1]
  if (!first || !last) return batch
  // The common cases need no lookup: a page strictly older than the list, live lines strictly newer.
  if (compareNewestFirst(last, batch[0] as LogLine) < 0) return current.concat(batch)
  if (compareNewestFirst(batch[batch.length - 1] as LogLine, first) < 0) return batch.concat(current)
  const seen = new Set(current.map((line) => line.id))
  const fresh = batch.filter((line) => !seen.has(line.id))
  if (fresh.length === 0) return current as LogLine[]
  return [...current, ...fresh].sort(compareNewestFirst)
}

function dedupe(sorted: LogLine[]): LogLine[] {
  const seen = new Set<string>()
  return sorted.filter((line) => (seen.has(line.id) ? false : (seen.add(line.id), true)))
}

/** "binance:btc/usdt" → "BTCUSDT", roughly as the engine reads a symbol filter. */
export function normaliseSymbol(text: string): string {
  let raw = text.trim().toUpperCase()
  if (raw.includes('/')) raw = (raw.split(':')[0] ?? '').replace('/', '')
  else if (raw.includes(':')) raw = raw.slice(raw.lastIndexOf(':') + 1)
  return raw.replace(/\.P$/, '').replace(/[-_]/g, '')
}

/** Whether a live line belongs in the list the filters describe (the engine's rules, client side). */
export function matchesFilters(line: LogLine, filters: LogFilters): boolean {
  if (filters.levels.length && !filters.levels.includes(line.level as never)) return false
  if (filters.categories.length && !filters.categories.includes(line.category as never)) return false
  const symbol = filters.symbol.trim()
  if (symbol && line.symbol !== normaliseSymbol(symbol)) return false
  const q = filters.q.trim().toLowerCase()
  if (q && !line.message.toLowerCase().includes(q)) return false
  const at = Date.parse(line.created_at)
  if (filters.from && at < Date.parse(filters.from)) return false
  if (filters.to && at >= Date.parse(filters.to)) return false
  return true
}

export function isAlert(line: LogLine): boolean {
  return (ALERT_LEVELS as readonly string[]).includes(line.level) && !line.acknowledged
}

/**
 * The system log as the Logs page shows it: the filtered lines newest first (pages read on demand,
 * live `log.created` lines merged in), and the pinned strip of unacknowledged alerts.
 * Arrays are shallow refs replaced whole: 100,000 lines are not made deeply reactive.
 */
export const useLogsStore = defineStore('logs', () => {
  const lines = shallowRef<LogLine[]>([])
  const filters = ref<LogFilters>(emptyFilters())
  const nextCursor = ref<string | null>(null)
  const loading = ref(false)
  const loadingMore = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)

  const alerts = shallowRef<LogLine[]>([])
  /** More unacknowledged alerts exist than the strip holds. */
  const moreAlerts = ref(false)
  const alertsError = ref<ApiError | null>(null)
  const acking = ref<Record<string, boolean>>({})

  /** Bumped on every live merge that put lines above the ones on screen: `{ seq, count }`. */
  const prepended = ref({ seq: 0, count: 0 })

  let generation = 0
  let liveBuffer: LogLine[] = []
  let liveTimer: ReturnType<typeof setTimeout> | null = null
  /** Live lines that arrived while the first page was loading, merged into its answer. */
  let duringLoad: LogLine[] | null = null

  /** Reads the first page for `next` filters (default: the current ones), replacing the list. */
  async function load(next?: LogFilters): Promise<void> {
    if (next) filters.value = { ...next }
    const started = ++generation
    loading.value = true
    error.value = null
    duringLoad = []
    try {
      const page = await logsApi.fetchLogs(filters.value, { limit: PAGE_SIZE })
      if (started !== generation) return
      lines.value = mergeLines(page.items, duringLoad ?? [])
      nextCursor.value = page.next_cursor
      loaded.value = true
    } catch (caught) {
      if (started !== generation) return
      error.value = asApiError(caught)
      lines.value = []
      nextCursor.value = null
    } finally {
      if (started === generation) {
        loading.value = false
        duringLoad = null
      }
    }
  }

  /** Reads the next (older) page; one at a time; nothing when the last page is on screen. */
  async function loadMore(): Promise<void> {
    const cursor = nextCursor.value
    if (!cursor || loadingMore.value || loading.value) return
    const started = generation
    loadingMore.value = true
    try {
      const page = await logsApi.fetchLogs(filters.value, { limit: PAGE_SIZE, cursor })
      if (started !== generation) return
      lines.value = mergeLines(lines.value, page.items)
      nextCursor.value = page.next_cursor
    } catch (caught) {
      if (started !== generation) return
      error.value = asApiError(caught)
    } finally {
      if (started === generation) loadingMore.value = false
    }
  }

  function flushLive(): void {
    if (liveTimer !== null) clearTimeout(liveTimer)
    liveTimer = null
    const batch = liveBuffer
    liveBuffer = []
    if (batch.length === 0) return
    const shown = batch.filter((line) => matchesFilters(line, filters.value))
    if (duringLoad) duringLoad.push(...shown)
    if (loaded.value && shown.length) {
      const before = lines.value
      const after = mergeLines(before, shown)
      if (after !== before) {
        const oldFirst = before[0]
        const count = oldFirst ? after.indexOf(oldFirst) : after.length
        lines.value = after
        if (count > 0) prepended.value = { seq: prepended.value.seq + 1, count }
      }
    }
    const pinned = batch.filter(isAlert)
    if (pinned.length) {
      const merged = mergeLines(alerts.value, pinned)
      moreAlerts.value = moreAlerts.value || merged.length > ALERTS_LIMIT
      alerts.value = merged.slice(0, ALERTS_LIMIT)
    }
  }

  /** A `log.created` line: merged into the list (if it matches the filters) and the alert strip. */
  function receive(line: LogLine): void {
    liveBuffer.push(line)
    if (liveTimer === null) liveTimer = setTimeout(flushLive, LIVE_FLUSH_MS)
  }

  async function loadAlerts(): Promise<void> {
    alertsError.value = null
    try {
      const page = await logsApi.fetchLogs(
        { ...emptyFilters(), levels: [...ALERT_LEVELS] },
        { acknowledged: false, limit: ALERTS_LIMIT },
      )
      alerts.value = page.items
      moreAlerts.value = page.next_cursor !== null
    } catch (caught) {
      alertsError.value = asApiError(caught)
    }
  }

  function markAcknowledged(predicate: (line: LogLine) => boolean): void {
    if (lines.value.some(predicate)) {
      lines.value = lines.value.map((line) => (predicate(line) ? { ...line, acknowledged: true } : line))
    }
  }

  async function acknowledge(id: string): Promise<void> {
    acking.value[id] = true
    try {
      await logsApi.acknowledgeLog(id)
      alerts.value = alerts.value.filter((line) => line.id !== id)
      markAcknowledged((line) => line.id === id)
    } finally {
      delete acking.value[id]
    }
  }

  /** Acknowledges every alert up to now; the strip is then re-read (more may have been hidden). */
  async function acknowledgeAll(): Promise<number> {
    const until = new Date().toISOString()
    const count = await logsApi.acknowledgeAllLogs(until)
    const cleared = new Set(alerts.value.map((line) => line.id))
    markAcknowledged((line) => cleared.has(line.id) || (isAlert(line) && line.created_at <= until))
    alerts.value = []
    moreAlerts.value = false
    await loadAlerts()
    return count
  }

  /** After a reconnect: events sent meanwhile are lost, so what is on screen is read again. */
  async function refresh(): Promise<void> {
    if (!loaded.value) return
    await Promise.all([load(), loadAlerts()])
  }

  function reset(): void {
    generation++
    if (liveTimer !== null) clearTimeout(liveTimer)
    liveTimer = null
    liveBuffer = []
    duringLoad = null
    lines.value = []
    filters.value = emptyFilters()
    nextCursor.value = null
    loading.value = false
    loadingMore.value = false
    loaded.value = false
    error.value = null
    alerts.value = []
    moreAlerts.value = false
    alertsError.value = null
    acking.value = {}
    prepended.value = { seq: 0, count: 0 }
  }

  return {
    lines,
    filters,
    nextCursor,
    loading,
    loadingMore,
    loaded,
    error,
    alerts,
    moreAlerts,
    alertsError,
    acking,
    prepended,
    load,
    loadMore,
    receive,
    flushLive,
    loadAlerts,
    acknowledge,
    acknowledgeAll,
    refresh,
    reset,
  }
})
