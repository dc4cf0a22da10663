import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { PREVIEW_DEBOUNCE_MS, documentFieldErrors, normalisePrice, useSettingsStore } from './settings'
import * as api from '@/api/settings'
import { ApiError } from '@/api/errors'
import { defaultSettings, makeRecord } from '@/testing/settings'
import type { PreviewResult } from '@/types/settings'

vi.mock('@/api/settings', () => ({
  fetchSettings: vi.fn(),
  saveSettings: vi.fn(),
  previewGrid: vi.fn(),
  fetchHistory: vi.fn(),
  fetchVersion: vi.fn(),
  restoreVersion: vi.fn(),
  resetSettings: vi.fn(),
  exportSettings: vi.fn(),
  importSettings: vi.fn(),
  rotateWebhookSecret: vi.fn(),
}))

const fetchSettings = vi.mocked(api.fetchSettings)
const saveSettings = vi.mocked(api.saveSettings)
const previewGrid = vi.mocked(api.previewGrid)
const fetchHistory = vi.mocked(api.fetchHistory)
const restoreVersion = vi.mocked(api.restoreVersion)

function previewAnswer(price: string): PreviewResult {
  return {
    symbol: 'BTCUSDT',
    side: 'long',
    entry_price: price,
    valid: true,
    reason: null,
    legs: [],
    account_id: 'acc',
    exchange: 'binance',
    market_type: 'spot',
    rules: {},
  }
}

async function loaded() {
  fetchSettings.mockResolvedValueOnce(makeRecord({ version: 3 }))
  const store = useSettingsStore()
  await store.load()
  return store
}

describe('settings store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
    for (const mock of [fetchSettings, saveSettings, previewGrid, fetchHistory, restoreVersion]) mock.mockReset()
    fetchHistory.mockResolvedValue([])
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('loads the saved version into a draft and starts clean', async () => {
    const store = await loaded()
    expect(store.record?.version).toBe(3)
    expect(store.draft).toEqual(defaultSettings())
    expect(store.draft).not.toBe(store.record?.settings)
    expect(store.dirty).toBe(false)
    expect(store.isValid).toBe(true)
  })

  it('validates as you type and lists what changed', async () => {
    const store = await loaded()
    store.setField('grid.legs.4.weight_percent', '19')
    expect(store.isValid).toBe(false)
    expect(store.errors['grid.legs']?.[0]).toContain('leg weights sum to 99')
    expect(store.changes).toEqual([{ path: 'grid.legs.4.weight_percent', before: '20', after: '19' }])

    store.setField('grid.legs.4.weight_percent', '20')
    expect(store.isValid).toBe(true)
    expect(store.dirty).toBe(false)
  })

  it('re-splits the pyramid weights equally when max_pyramids changes', async () => {
    const store = await loaded()
    store.setField('capital.max_pyramids', 3)
    expect(store.draft?.capital.pyramid_weights).toEqual(['33.34', '33.33', '33.33'])
    store.setField('capital.max_pyramids', 'x')
    expect(store.draft?.capital.pyramid_weights).toEqual(['33.34', '33.33', '33.33'])
    expect(store.errors['capital.max_pyramids']?.[0]).toBe("must be a whole number, not 'x'")
  })

  it('applies the draft with the version it was based on, then adopts the answer', async () => {
    const store = await loaded()
    store.setField('pool.max_open_groups', 8)
    const next = defaultSettings()
    next.pool.max_open_groups = 8
    saveSettings.mockResolvedValueOnce(makeRecord({ version: 4, settings: next, updated_by: 'trader' }))

    const saved = await store.apply('fewer groups')

    expect(saveSettings).toHaveBeenCalledWith(expect.objectContaining({ pool: expect.objectContaining({ max_open_groups: 8 }) }), 3, 'fewer groups')
    expect(saved.version).toBe(4)
    expect(store.record?.version).toBe(4)
    expect(store.dirty).toBe(false)
    expect(fetchHistory).toHaveBeenCalled()
  })

  it('keeps a 409 version conflict as the save error', async () => {
    const store = await loaded()
    saveSettings.mockRejectedValueOnce(new ApiError(409, 'version_conflict', 'settings changed since version 3'))
    await expect(store.apply()).rejects.toThrow('settings changed')
    expect(store.saveError?.status).toBe(409)
    expect(store.record?.version).toBe(3)
  })

  it('shows the server’s 422 field errors until the field is edited', async () => {
    const store = await loaded()
    store.setField('signals.max_signal_age_seconds', 30)
    saveSettings.mockRejectedValueOnce(
      new ApiError(422, 'invalid', 'some fields are invalid', {
        'signals.max_signal_age_seconds': ['too short for this engine'],
      }),
    )
    await expect(store.apply()).rejects.toBeInstanceOf(ApiError)
    expect(store.errors['signals.max_signal_age_seconds']).toEqual(['too short for this engine'])

    store.setField('signals.max_signal_age_seconds', 60)
    expect(store.errors['signals.max_signal_age_seconds']).toBeUndefined()
  })

  it('maps import and preview error paths onto the document', () => {
    expect(documentFieldErrors({ 'settings.grid.legs': ['x'], format: ['y'] })).toEqual({
      'grid.legs': ['x'],
      format: ['y'],
    })
    expect(normalisePrice(' 64,250.5 ')).toBe('64250.5')
  })

  it('restores a version through the API and adopts it', async () => {
    const store = await loaded()
    restoreVersion.mockResolvedValueOnce(makeRecord({ version: 5 }))
    await store.restore(2)
    expect(restoreVersion).toHaveBeenCalledWith(2)
    expect(store.record?.version).toBe(5)
  })

  // ---- preview debounce ------------------------------------------------------------------

  it('asks for one preview after a burst of edits, with the latest draft', async () => {
    const store = await loaded()
    previewGrid.mockResolvedValue(previewAnswer('64250.5'))
    store.setPreviewInput('entryPrice', '64,250.5')
    for (const weight of ['21', '22', '20']) {
      store.setField('grid.legs.0.weight_percent', weight)
      await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS - 50)
    }
    expect(previewGrid).not.toHaveBeenCalled()

    await vi.advanceTimersByTimeAsync(60)
    expect(previewGrid).toHaveBeenCalledTimes(1)
    const [request] = previewGrid.mock.calls[0]!
    expect(request).toMatchObject({ symbol: 'BTCUSDT', side: 'long', entry_price: '64250.5', account_id: null })
    expect(request.settings?.grid?.legs?.[0]?.weight_percent).toBe('20')
    expect(store.preview?.entry_price).toBe('64250.5')
  })

  it('does not ask for a preview while the draft is invalid or there is no price', async () => {
    const store = await loaded()
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS + 10)
    expect(store.previewBlocked).toBe('Enter an entry price to preview the grid.')

    store.setPreviewInput('entryPrice', '64250.5')
    store.setField('grid.legs.4.weight_percent', '19')
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS + 10)
    expect(previewGrid).not.toHaveBeenCalled()
    expect(store.previewBlocked).toBe('Fix the fields marked in red to see the preview.')
  })

  it('keeps only the newest preview answer', async () => {
    const store = await loaded()
    let answerFirst: (value: PreviewResult) => void = () => {}
    previewGrid
      .mockImplementationOnce(() => new Promise((resolve) => (answerFirst = resolve)))
      .mockResolvedValueOnce(previewAnswer('2'))
    store.setPreviewInput('entryPrice', '1')
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS)
    store.setPreviewInput('entryPrice', '2')
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS)
    answerFirst(previewAnswer('1'))
    await vi.runAllTimersAsync()
    expect(store.preview?.entry_price).toBe('2')
  })
})
