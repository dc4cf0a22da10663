import { defineStore } from 'pinia'
import { computed, reactive, ref, shallowRef } from 'vue'
import * as settingsApi from '@/api/settings'
import { ApiError } from '@/api/errors'
import { deepClone, diffDocuments, getAt, setAt, type Change } from '@/components/settings/paths'
import { equalWeights } from '@/components/settings/exact'
import { MAX_PYRAMIDS, validateSettings } from '@/components/settings/rules'
import { useThemeStore } from '@/stores/theme'
import type {
  FieldErrors,
  PreviewResult,
  PreviewSide,
  SettingsDocument,
  SettingsHistoryEntry,
  SettingsRecord,
} from '@/types/settings'

/** The preview is asked for this long after the last change (typing does not flood the engine). */
export const PREVIEW_DEBOUNCE_MS = 400

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/** Server field paths name the document's own paths; import and preview prefix them with `settings.`. */
export function documentFieldErrors(fields: Readonly<Record<string, string[]>>): FieldErrors {
  const out: FieldErrors = {}
  for (const [path, reasons] of Object.entries(fields)) {
    const key = path.startsWith('settings.') ? path.slice('settings.'.length) : path
    out[key] = [...(out[key] ?? []), ...reasons]
  }
  return out
}

/** "64,250.5" / " 64250.5 " → "64250.5": the price as the trader may type it. */
export function normalisePrice(text: string): string {
  return text.replace(/[,\s_]/g, '')
}

const PRICE = /^\d+(?:\.\d+)?$|^\.\d+$/

export interface PreviewInputs {
  symbol: string
  side: PreviewSide
  entryPrice: string
  accountId: string | null
}

/**
 * The settings page's state: the saved version, the trader's draft, its errors (the mirrored rules
 * as they type, plus the server's answer until the field is edited), the diff, the live preview,
 * and the version history.
 */
export const useSettingsStore = defineStore('settings', () => {
  const record = ref<SettingsRecord | null>(null)
  const draft = ref<SettingsDocument | null>(null)
  const loading = ref(false)
  const loadError = ref<ApiError | null>(null)
  const saving = ref(false)
  /** The last failed apply (409 version conflict, 422 with field errors, …). */
  const saveError = ref<ApiError | null>(null)

  /** The server's field errors, each with the draft's value at that path when it answered. */
  const serverErrors = ref<FieldErrors>({})
  let serverErrorValues: Record<string, string> = {}

  const history = ref<SettingsHistoryEntry[]>([])
  const historyLoading = ref(false)
  const historyError = ref<ApiError | null>(null)

  const previewInputs = reactive<PreviewInputs>({ symbol: 'BTCUSDT', side: 'long', entryPrice: '', accountId: null })
  const preview = shallowRef<PreviewResult | null>(null)
  const previewLoading = ref(false)
  const previewError = ref<ApiError | null>(null)
  /** Why no preview is asked for right now (no price yet, invalid draft), or null. */
  const previewBlocked = ref<string | null>('Enter an entry price to preview the grid.')

  let previewTimer: ReturnType<typeof setTimeout> | null = null
  let previewSeq = 0
  let previewAbort: AbortController | null = null

  const clientErrors = computed<FieldErrors>(() => (draft.value ? validateSettings(draft.value) : {}))

  /** Server errors still about the value on screen (editing the field clears its error). */
  const activeServerErrors = computed<FieldErrors>(() => {
    const out: FieldErrors = {}
    for (const [path, reasons] of Object.entries(serverErrors.value)) {
      if (JSON.stringify(getAt(draft.value, path)) === serverErrorValues[path]) out[path] = reasons
    }
    return out
  })

  const errors = computed<FieldErrors>(() => {
    const merged: FieldErrors = {}
    for (const source of [clientErrors.value, activeServerErrors.value]) {
      for (const [path, reasons] of Object.entries(source)) {
        merged[path] = [...new Set([...(merged[path] ?? []), ...reasons])]
      }
    }
    return merged
  })

  const isValid = computed(() => Object.keys(clientErrors.value).length === 0)
  const changes = computed<Change[]>(() =>
    record.value && draft.value ? diffDocuments(record.value.settings, draft.value) : [],
  )
  const dirty = computed(() => changes.value.length > 0)

  function adopt(next: SettingsRecord): void {
    record.value = next
    draft.value = deepClone(next.settings)
    serverErrors.value = {}
    serverErrorValues = {}
  }

  function setServerErrors(fields: Readonly<Record<string, string[]>>): void {
    const mapped = documentFieldErrors(fields)
    serverErrors.value = mapped
    serverErrorValues = Object.fromEntries(
      Object.keys(mapped).map((path) => [path, JSON.stringify(getAt(draft.value, path))]),
    )
  }

  async function load(): Promise<void> {
    loading.value = true
    loadError.value = null
    try {
      adopt(await settingsApi.fetchSettings())
      saveError.value = null
      schedulePreview()
    } catch (caught) {
      loadError.value = asApiError(caught)
    } finally {
      loading.value = false
    }
  }

  /**
   * Changes one value of the draft (path as the server names it) and refreshes the preview. A new
   * valid `capital.max_pyramids` re-splits the pyramid weights equally, as the server does for a
   * change of the count that comes without weights.
   */
  function setField(path: string, value: unknown): void {
    if (!draft.value) return
    const before = draft.value.capital?.max_pyramids
    setAt(draft.value, path, value)
    if (path === 'capital.max_pyramids' && typeof value === 'number' && value !== before) {
      const weights = equalWeights(value)
      if (value >= 1 && value <= MAX_PYRAMIDS && weights.length) draft.value.capital.pyramid_weights = weights
    }
    schedulePreview()
  }

  /** Replaces the draft wholesale (legs tables, overrides) and refreshes the preview. */
  function updateDraft(mutate: (doc: SettingsDocument) => void): void {
    if (!draft.value) return
    mutate(draft.value)
    schedulePreview()
  }

  function discard(): void {
    if (record.value) adopt(record.value)
    saveError.value = null
    schedulePreview()
  }

  async function afterSave(next: SettingsRecord): Promise<SettingsRecord> {
    const themeBefore = record.value?.settings.ui.theme
    adopt(next)
    saveError.value = null
    if (next.settings.ui.theme !== themeBefore) useThemeStore().name = next.settings.ui.theme
    void loadHistory()
    schedulePreview()
    return next
  }

  /** Apply & Restart Engine: `PUT /api/settings` with the draft and the version it was based on. */
  function apply(note?: string): Promise<SettingsRecord> {
    const doc = draft.value
    const base = record.value
    if (!doc || !base) return Promise.reject(new ApiError(0, 'not_loaded', 'Settings are not loaded yet.'))
    return runSaving(() => settingsApi.saveSettings(doc, base.version, note))
  }

  async function runSaving(action: () => Promise<SettingsRecord>): Promise<SettingsRecord> {
    saving.value = true
    saveError.value = null
    try {
      return await afterSave(await action())
    } catch (caught) {
      const error = asApiError(caught)
      saveError.value = error
      if (error.status === 422) setServerErrors(error.fields)
      throw error
    } finally {
      saving.value = false
    }
  }

  const restore = (version: number) => runSaving(() => settingsApi.restoreVersion(version))
  const resetToDefaults = () => runSaving(() => settingsApi.resetSettings())
  const importBackup = (payload: unknown) => runSaving(() => settingsApi.importSettings(payload))

  async function loadHistory(): Promise<void> {
    historyLoading.value = true
    historyError.value = null
    try {
      history.value = await settingsApi.fetchHistory()
    } catch (caught) {
      historyError.value = asApiError(caught)
    } finally {
      historyLoading.value = false
    }
  }

  // ---- preview ---------------------------------------------------------------------------------

  function previewReady(): string | null {
    const price = normalisePrice(previewInputs.entryPrice)
    if (!previewInputs.symbol.trim()) return 'Enter a symbol to preview the grid.'
    if (!price) return 'Enter an entry price to preview the grid.'
    if (!PRICE.test(price) || /^[0.]+$/.test(price)) return 'The entry price must be a number above 0.'
    if (!isValid.value) return 'Fix the fields marked in red to see the preview.'
    if (!draft.value) return 'Settings are not loaded yet.'
    return null
  }

  /** Asks for the preview `PREVIEW_DEBOUNCE_MS` after the last call (one request for a burst). */
  function schedulePreview(): void {
    if (previewTimer !== null) clearTimeout(previewTimer)
    previewTimer = setTimeout(() => {
      previewTimer = null
      void runPreview()
    }, PREVIEW_DEBOUNCE_MS)
  }

  /** `POST /api/settings/preview` with the draft; only the newest answer is kept. */
  async function runPreview(): Promise<void> {
    const blocked = previewReady()
    previewBlocked.value = blocked
    if (blocked) {
      previewAbort?.abort()
      previewLoading.value = false
      return
    }
    const seq = ++previewSeq
    previewAbort?.abort()
    const abort = new AbortController()
    previewAbort = abort
    previewLoading.value = true
    try {
      const result = await settingsApi.previewGrid(
        {
          symbol: previewInputs.symbol.trim(),
          side: previewInputs.side,
          entry_price: normalisePrice(previewInputs.entryPrice),
          account_id: previewInputs.accountId,
          settings: deepClone(draft.value),
        },
        abort.signal,
      )
      if (seq !== previewSeq) return
      preview.value = result
      previewError.value = null
    } catch (caught) {
      if (seq !== previewSeq || (caught instanceof DOMException && caught.name === 'AbortError')) return
      previewError.value = asApiError(caught)
      preview.value = null
    } finally {
      if (seq === previewSeq) previewLoading.value = false
    }
  }

  function setPreviewInput<K extends keyof PreviewInputs>(key: K, value: PreviewInputs[K]): void {
    previewInputs[key] = value
    schedulePreview()
  }

  function reset(): void {
    if (previewTimer !== null) clearTimeout(previewTimer)
    previewTimer = null
    previewAbort?.abort()
    previewSeq++
    record.value = null
    draft.value = null
    loading.value = false
    loadError.value = null
    saving.value = false
    saveError.value = null
    serverErrors.value = {}
    serverErrorValues = {}
    history.value = []
    preview.value = null
    previewLoading.value = false
    previewError.value = null
  }

  return {
    record,
    draft,
    loading,
    loadError,
    saving,
    saveError,
    clientErrors,
    serverErrors,
    errors,
    isValid,
    changes,
    dirty,
    history,
    historyLoading,
    historyError,
    previewInputs,
    preview,
    previewLoading,
    previewError,
    previewBlocked,
    load,
    setField,
    updateDraft,
    discard,
    apply,
    restore,
    resetToDefaults,
    importBackup,
    loadHistory,
    schedulePreview,
    runPreview,
    setPreviewInput,
    reset,
  }
})
