import { API_BASE, apiRequest } from './client'
import { attachmentName, authorisedGet } from './download'
import type { DayRange, Performance } from '@/types/performance'

function rangeQuery(range: DayRange): Record<string, string | undefined> {
  return { from: range.from ?? undefined, to: range.to ?? undefined }
}

/** `GET /api/performance?from=&to=` — the figures over whole UTC days (both inclusive). */
export function fetchPerformance(range: DayRange, signal?: AbortSignal): Promise<Performance> {
  return apiRequest<Performance>('/performance', { query: rangeQuery(range), signal })
}

/** `/api/performance/export?format=csv&from=&to=` with the session's token. */
export function exportUrl(range: DayRange): string {
  const params = new URLSearchParams({ format: 'csv' })
  for (const [key, value] of Object.entries(rangeQuery(range))) {
    if (value) params.append(key, value)
  }
  return `${API_BASE}/performance/export?${params.toString()}`
}


/**
 * Downloads the closed trades of the range as CSV (the browser's save dialog); resolves to the
 * file name. A plain link cannot carry the bearer token, so the file is fetched and handed over.
 */
export async function downloadTradesCsv(range: DayRange): Promise<string> {
  const response = await authorisedGet(exportUrl(range))
  const name = attachmentName(response.headers.get('Content-Disposition'), 'trades.csv')
  const url = URL.createObjectURL(await response.blob())
  const link = document.createElement('a')
  link.href = url
  link.download = name
  link.style.display = 'none'
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
  return name
}
