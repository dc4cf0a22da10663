import { apiRequest } from './client'
import type {
  PreviewRequest,
  PreviewResult,
  RotatedSecret,
  SettingsDocument,
  SettingsExport,
  SettingsHistoryEntry,
  SettingsRecord,
  SettingsVersionDocument,
} from '@/types/settings'

/** `GET /api/settings` — the whole document with its version. */
export function fetchSettings(signal?: AbortSignal): Promise<SettingsRecord> {
  return apiRequest<SettingsRecord>('/settings', { signal })
}

/**
 * `PUT /api/settings` (trader) — Apply & Restart Engine: validate, store as a new version, apply.
 * `version` is the version the draft was based on; a newer save meanwhile answers 409.
 */
export function saveSettings(settings: SettingsDocument, version: number, note?: string): Promise<SettingsRecord> {
  return apiRequest<SettingsRecord>('/settings', {
    method: 'PUT',
    body: { settings, version, ...(note ? { note } : {}) },
  })
}

/** `POST /api/settings/preview` — the grid one pyramid would send, after rounding. */
export function previewGrid(request: PreviewRequest, signal?: AbortSignal): Promise<PreviewResult> {
  return apiRequest<PreviewResult>('/settings/preview', { method: 'POST', body: request, signal })
}

/** `GET /api/settings/history` — saved versions, newest first. */
export async function fetchHistory(limit = 100): Promise<SettingsHistoryEntry[]> {
  const body = await apiRequest<{ items: SettingsHistoryEntry[] }>('/settings/history', { query: { limit } })
  return body.items
}

/** `GET /api/settings/history/<v>` — one saved version in full. */
export function fetchVersion(version: number): Promise<SettingsVersionDocument> {
  return apiRequest<SettingsVersionDocument>(`/settings/history/${version}`)
}

/** `POST /api/settings/restore/<v>` (trader) — saves an old version again as the newest. */
export function restoreVersion(version: number): Promise<SettingsRecord> {
  return apiRequest<SettingsRecord>(`/settings/restore/${version}`, { method: 'POST' })
}

/** `POST /api/settings/reset` (trader) — saves the product defaults as the newest version. */
export function resetSettings(): Promise<SettingsRecord> {
  return apiRequest<SettingsRecord>('/settings/reset', { method: 'POST' })
}

/** `GET /api/settings/export` (trader) — a backup accepted back by import. */
export function exportSettings(): Promise<SettingsExport> {
  return apiRequest<SettingsExport>('/settings/export')
}

/** `POST /api/settings/import` (trader) — replaces the settings with a backup's, as a new version. */
export function importSettings(payload: unknown): Promise<SettingsRecord> {
  return apiRequest<SettingsRecord>('/settings/import', { method: 'POST', body: payload })
}

/** `POST /api/auth/webhook-secret` (trader) — rotates the secret; the answer is the only place it shows. */
export function rotateWebhookSecret(): Promise<RotatedSecret> {
  return apiRequest<RotatedSecret>('/auth/webhook-secret', { method: 'POST' })
}
