import { defineStore } from 'pinia'
import { ref } from 'vue'
import { ApiError } from '@/api/errors'
import { fetchRiskActions, fetchRiskPanel, runRiskNow, setRiskControl } from '@/api/risk'
import type { RiskAction, RiskControl, RiskPanel, RiskRunResult } from '@/types/risk'

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/**
 * The risk panel: loaded over REST, replaced by `risk.updated` (same shape), the history prepended
 * by `risk.action`. Controls and Run Now re-read the panel when they answer.
 */
export const useRiskStore = defineStore('risk', () => {
  const panel = ref<RiskPanel | null>(null)
  const actions = ref<RiskAction[]>([])
  const loading = ref(false)
  const running = ref(false)
  const error = ref<ApiError | null>(null)
  /** group id → the control being sent for it. */
  const pending = ref<Record<string, RiskControl | undefined>>({})

  async function load(): Promise<void> {
    loading.value = true
    try {
      const [loaded, history] = await Promise.all([fetchRiskPanel(), fetchRiskActions()])
      panel.value = loaded
      actions.value = history
      error.value = null
    } catch (caught) {
      error.value = asApiError(caught)
    } finally {
      loading.value = false
    }
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

  /** `risk.updated`: the panel as the server computed it. */
  function receivePanel(next: RiskPanel): void {
    panel.value = next
  }

  /** `risk.action`: a new or finished action (same id replaces). */
  function receiveAction(action: RiskAction): void {
    const rest = actions.value.filter((a) => a.id !== action.id)
    actions.value = [action, ...rest]
  }

  return { panel, actions, loading, running, error, pending, load, runNow, control, receivePanel, receiveAction }
})
