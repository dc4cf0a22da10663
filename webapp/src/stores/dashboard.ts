import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as dashboardApi from '@/api/dashboard'
import { acknowledgeAllLogs, acknowledgeLog } from '@/api/logs'
import { ApiError } from '@/api/errors'
import type { Dashboard, EngineStatus, PoolUsage } from '@/types/dashboard'
import { ALERT_LEVELS, type LogLine } from '@/types/logs'
import { coalescedReread } from './reread'

/** Events arriving together (a grid filling, 50 price moves a second) share one re-read at most
 * this often; the figures are sums the server computes, so the page re-reads instead of guessing. */
export const RELOAD_THROTTLE_MS = 1500
/** As many alerts as the server sends (`GET /api/dashboard` shows the newest 20). */
export const ALERTS_SHOWN = 20

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

function isAlert(line: LogLine): boolean {
  return (ALERT_LEVELS as readonly string[]).includes(line.level) && !line.acknowledged
}

/**
 * The dashboard: `GET /api/dashboard`, kept live. `engine.status` and new alert lines are applied
 * as they arrive; every other event (`group.updated`, `pool.updated`, `queue.updated`, risk
 * events, `log.created`) asks for a throttled re-read while the page is open.
 */
export const useDashboardStore = defineStore('dashboard', () => {
  const data = ref<Dashboard | null>(null)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  const acting = ref<'pause' | 'resume' | 'apply' | null>(null)
  const acking = ref<Record<string, boolean>>({})

  let latestRequest = 0

  const engine = computed<EngineStatus | null>(() => data.value?.engine ?? null)
  const engineState = computed(() => data.value?.engine?.status ?? data.value?.engine_status ?? null)
  const alerts = computed(() => data.value?.alerts ?? [])
  const alertsTotal = computed(() => data.value?.alerts_total ?? alerts.value.length)

  async function read(): Promise<void> {
    const request = ++latestRequest
    loading.value = true
    error.value = null
    try {
      const answer = await dashboardApi.fetchDashboard()
      if (request !== latestRequest) return
      data.value = answer
      loaded.value = true
    } catch (caught) {
      if (request !== latestRequest) return
      error.value = asApiError(caught)
    } finally {
      if (request === latestRequest) loading.value = false
    }
  }

  /** Re-reads only while a view watches: one in flight, a trailing one, throttled. */
  const reread = coalescedReread(read, RELOAD_THROTTLE_MS)
  const { watchers, watch } = reread
  const load = reread.run
  /** A re-read soon: at once if none happened for a while, else once the throttle allows. */
  const scheduleReload = reread.request

  /** Re-read after a reconnect (events sent meanwhile are lost). */
  async function refresh(): Promise<void> {
    if (loaded.value && watchers.value > 0) await load()
  }

  function setEngine(status: EngineStatus): void {
    if (!data.value) return
    data.value = { ...data.value, engine: status, engine_status: status.status }
  }

  /** `engine.status`: the whole status, applied as it is. */
  function onEngineStatus(status: EngineStatus): void {
    if (status && typeof status.status === 'string' && 'action' in status) setEngine(status)
    else scheduleReload()
  }

  /** `log.created`: a new alert goes on top at once; the figures are re-read (throttled). */
  function onLogCreated(line: LogLine): void {
    const current = data.value
    if (current && isAlert(line) && !current.alerts.some((a) => a.id === line.id)) {
      data.value = {
        ...current,
        alerts: [line, ...current.alerts].slice(0, ALERTS_SHOWN),
        alerts_total: (current.alerts_total ?? current.alerts.length) + 1,
      }
    }
    scheduleReload()
  }

  /** `pool.updated`: applied at once when it carries the numbers, then re-read. */
  function onPoolUpdated(pool: Partial<PoolUsage> | null | undefined): void {
    const current = data.value
    if (current && pool && typeof pool.used === 'number' && typeof pool.max === 'number') {
      const queued = typeof pool.queued === 'number' ? pool.queued : current.queued
      data.value = { ...current, pool: { ...current.pool, ...pool }, queued }
    }
    scheduleReload()
  }

  /** Any other event that moves the figures (`group.updated`, `queue.updated`, risk events). */
  function onChange(): void {
    scheduleReload()
  }

  function dropAlerts(predicate: (line: LogLine) => boolean): void {
    const current = data.value
    if (!current) return
    const kept = current.alerts.filter((line) => !predicate(line))
    const removed = current.alerts.length - kept.length
    const total = Math.max(0, (current.alerts_total ?? current.alerts.length) - removed)
    data.value = { ...current, alerts: kept, alerts_total: total }
  }

  async function acknowledge(id: string): Promise<void> {
    acking.value[id] = true
    try {
      await acknowledgeLog(id)
      dropAlerts((line) => line.id === id)
    } finally {
      delete acking.value[id]
    }
  }

  /** Acknowledges every alert up to now; resolves to how many. */
  async function acknowledgeAll(): Promise<number> {
    const count = await acknowledgeAllLogs(new Date().toISOString())
    dropAlerts(() => true)
    if (data.value) data.value = { ...data.value, alerts_total: 0 }
    return count
  }

  async function control(kind: 'pause' | 'resume' | 'apply'): Promise<EngineStatus> {
    acting.value = kind
    try {
      const call = {
        pause: dashboardApi.pauseEngine,
        resume: dashboardApi.resumeEngine,
        apply: dashboardApi.applyEngine,
      }[kind]
      const status = await call()
      setEngine(status)
      return status
    } finally {
      acting.value = null
    }
  }

  function reset(): void {
    reread.reset()
    data.value = null
    loaded.value = false
    error.value = null
  }

  return {
    data,
    loading,
    loaded,
    error,
    acting,
    acking,
    watchers,
    engine,
    engineState,
    alerts,
    alertsTotal,
    load,
    watch,
    refresh,
    scheduleReload,
    onEngineStatus,
    onLogCreated,
    onPoolUpdated,
    onChange,
    acknowledge,
    acknowledgeAll,
    pause: () => control('pause'),
    resume: () => control('resume'),
    apply: () => control('apply'),
    reset,
  }
})
