import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { downloadTradesCsv, fetchPerformance } from '@/api/performance'
import { ApiError } from '@/api/errors'
import { rangeFor } from '@/components/performance/kpis'
import type { PositionGroup } from '@/types/positions'
import type { DayRange, Performance, RangePreset } from '@/types/performance'

/** Closes arriving together (a risk action, a TP sweep) share one reload this much later. */
export const CLOSE_RELOAD_DELAY_MS = 1500

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/**
 * The performance page's figures for the chosen range (whole UTC days). Reloaded when a group
 * closes (`group.updated` with status `closed`), when the range changes, and on request.
 */
export const usePerformanceStore = defineStore('performance', () => {
  const preset = ref<RangePreset>('30d')
  const custom = ref<DayRange>({ from: null, to: null })
  const data = ref<Performance | null>(null)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  const exporting = ref(false)
  /** Injected clock, so tests can pin "today". */
  let now: () => Date = () => new Date()

  let latestRequest = 0
  let reloadTimer: ReturnType<typeof setTimeout> | null = null

  /** The days asked for now (a preset ends today, UTC, whenever it is asked). */
  function currentRange(): DayRange {
    return rangeFor(preset.value, now(), custom.value)
  }
  const hasTrades = computed(() => (data.value?.trades.count ?? 0) > 0)

  /** Loads the figures of the current range; an answer to an older request is dropped. */
  async function load(): Promise<void> {
    const request = ++latestRequest
    loading.value = true
    error.value = null
    try {
      const answer = await fetchPerformance(currentRange())
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

  function setPreset(value: RangePreset): Promise<void> {
    preset.value = value
    if (value === 'custom' && !custom.value.from && !custom.value.to) return Promise.resolve()
    return load()
  }

  /** A custom range of UTC days (both inclusive). */
  function setCustom(value: DayRange): Promise<void> {
    custom.value = { ...value }
    preset.value = 'custom'
    return load()
  }

  /** Reloads if the page was shown (a re-read after reconnecting, a periodic TVL refresh). */
  async function refresh(): Promise<void> {
    if (loaded.value) await load()
  }

  /** `group.updated`: a closed group changes the figures; nothing else does. */
  function onGroupUpdated(group: Pick<PositionGroup, 'status'>): void {
    if (group.status !== 'closed' || !loaded.value || reloadTimer !== null) return
    reloadTimer = setTimeout(() => {
      reloadTimer = null
      void load()
    }, CLOSE_RELOAD_DELAY_MS)
  }

  /** Downloads the closed trades of the current range as CSV; resolves to the file name. */
  async function exportCsv(): Promise<string> {
    exporting.value = true
    try {
      return await downloadTradesCsv(currentRange())
    } finally {
      exporting.value = false
    }
  }

  function useClock(clock: () => Date): void {
    now = clock
  }

  return {
    preset,
    custom,
    data,
    loading,
    loaded,
    error,
    exporting,
    currentRange,
    hasTrades,
    load,
    setPreset,
    setCustom,
    refresh,
    onGroupUpdated,
    exportCsv,
    useClock,
  }
})
