import { defineStore } from 'pinia'
import { ref } from 'vue'
import { ApiError } from '@/api/errors'
import { fetchRiskActions, fetchRiskPanel, runRiskNow, setRiskControl } from '@/api/risk'
import type { RiskAction, RiskControl, RiskNotice, RiskPanel, RiskRunResult } from '@/types/risk'
import { coalescedReread } from './reread'

/** `risk.updated` notices (a run, a control) arriving together share one re-read at most this
 *  often; a scheduled run sends one per `evaluation_interval_sec` (60 s by default). */
export const RISK_REREAD_THROTTLE_MS = 1000

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/**
 * The risk panel: loaded over REST and re-read (`GET /api/risk`, coalesced: `coalescedReread`)
 * when a `risk.updated` notice says it moved — only while a view shows it (`watch`). The history
 * is prepended by `risk.action`. Controls and Run Now re-read the panel when they answer.
 */
export const useRiskStore = defineStore('risk', () => {
  const panel = ref<RiskPanel | null>(null)
  const actions = ref<RiskAction[]>([])
  const loading = ref(false)
  const running = ref(false)
  const error = ref<ApiError | null>(null)
  /** group id → the control being sent for it. */
  const pending = ref<Record<string, RiskControl | undefined>>({})

  let latestPanel = 0
  let latestHistory = 0

  /** `GET /api/risk`; an older answer arriving late is dropped. */
  async function readPanel(): Promise<void> {
    const request = ++latestPanel
    loading.value = true
    try {
      const loaded = await fetchRiskPanel()
      if (request !== latestPanel) return
      panel.value = loaded
      error.value = null
    } catch (caught) {
      if (request === latestPanel) error.value = asApiError(caught)
    } finally {
      if (request === latestPanel) loading.value = false
    }
  }

  async function readHistory(): Promise<void> {
    const request = ++latestHistory
    try {
      const history = await fetchRiskActions()
      if (request === latestHistory) actions.value = history
    } catch (caught) {
      if (request === latestHistory) error.value = asApiError(caught)
    }
  }

  const reread = coalescedReread(readPanel, RISK_REREAD_THROTTLE_MS)

  /** The panel and the history, now. */
  async function load(): Promise<void> {
    await Promise.all([reread.run(), readHistory()])
  }

  /** A view shows the panel: both read now, the panel re-read on notices until it closes. */
  function watch(): () => void {
    void readHistory()
    return reread.watch()
  }

  /** After a reconnect (notices sent meanwhile are lost): re-read what is on screen. */
  function refresh(): void {
    if (reread.watchers.value > 0) void load()
  }

  async function runNow(): Promise<RiskRunResult> {
    running.value = true
    try {
      const result = await runRiskNow()
      if (result.action) receiveAction(result.action)
      await load()
      return result
    } finally {
      running.value = false
    }
  }

  async function control(groupId: string, what: RiskControl): Promise<void> {
    pending.value = { ...pending.value, [groupId]: what }
    try {
      const answer = await setRiskControl(groupId, what)
      const row = panel.value?.groups.find((g) => g.group_id === groupId)
      if (row) Object.assign(row, { blocked: answer.blocked, skip_once: answer.skip_once })
      await load()
    } finally {
      pending.value = { ...pending.value, [groupId]: undefined }
    }
  }

  /** `risk.updated`: the schedule applied at once, the panel re-read (coalesced, if watched). */
  function onUpdated(notice: RiskNotice): void {
    const current = panel.value
    if (current && notice && typeof notice.enabled === 'boolean') {
      const { enabled, last_run_at, next_run_at } = notice
      panel.value = { ...current, enabled, last_run_at, next_run_at }
    }
    reread.request()
  }

  /** `risk.action`: a new or finished action (same id replaces). */
  function receiveAction(action: RiskAction): void {
    const rest = actions.value.filter((a) => a.id !== action.id)
    actions.value = [action, ...rest]
  }

  function reset(): void {
    reread.reset()
    panel.value = null
    actions.value = []
    error.value = null
  }

  return {
    panel,
    actions,
    loading,
    running,
    error,
    pending,
    watchers: reread.watchers,
    load,
    watch,
    refresh,
    runNow,
    control,
    onUpdated,
    receiveAction,
    reset,
  }
})
