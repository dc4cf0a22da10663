import { API_BASE, apiRequest } from './client'
import { attachmentName, authorisedGet } from './download'
import type { AuditEntry, CursorPage, LogFilters, LogLine } from '@/types/logs'

type Query = Record<string, string | number | boolean | undefined>

/** The filters as the query string of `GET /api/logs` and `/api/logs/export`. */
export function logFilterQuery(filters: LogFilters): Query {
  return {
    level: filters.levels.length ? filters.levels.join(',') : undefined,
    category: filters.categories.length ? filters.categories.join(',') : undefined,
    q: filters.q.trim() || undefined,
    symbol: filters.symbol.trim() || undefined,
    from: filters.from ?? undefined,
    to: filters.to ?? undefined,
  }
}

export interface LogPageQuery {
  limit?: number
  cursor?: string | null
  acknowledged?: boolean
}

/** `GET /api/logs` — one page of the system log, newest first. */
export function fetchLogs(
  filters: LogFilters,
  page: LogPageQuery = {},
  signal?: AbortSignal,
): Promise<CursorPage<LogLine>> {
  return apiRequest<CursorPage<LogLine>>('/logs', {
    query: {
      ...logFilterQuery(filters),
      limit: page.limit ?? 200,
      cursor: page.cursor ?? undefined,
      acknowledged: page.acknowledged,
    },
    signal,
  })
}

/** `POST /api/logs/<id>/ack` (trader) — the line, acknowledged. */
export function acknowledgeLog(id: string): Promise<LogLine> {
  return apiRequest<LogLine>(`/logs/${encodeURIComponent(id)}/ack`, { method: 'POST' })
}

/** `POST /api/logs/ack-all` (trader) — every pinned alert written up to `until` (default now). */
export async function acknowledgeAllLogs(until?: string): Promise<number> {
  const body = await apiRequest<{ acknowledged: number }>('/logs/ack-all', {
    method: 'POST',
    body: until ? { until } : {},
  })
  return body.acknowledged
}

/** `GET /api/audit` (admin) — one page of the audit log, newest first. */
export function fetchAudit(
  query: { action?: string; limit?: number; cursor?: string | null } = {},
): Promise<CursorPage<AuditEntry>> {
  return apiRequest<CursorPage<AuditEntry>>('/audit', {
    query: { action: query.action || undefined, limit: query.limit ?? 100, cursor: query.cursor ?? undefined },
  })
}

function exportUrl(filters: LogFilters, format: 'csv' | 'json'): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries({ ...logFilterQuery(filters), format })) {
    if (value !== undefined) params.append(key, String(value))
  }
  return `${API_BASE}/logs/export?${params.toString()}`
}


/** Hands a blob to the browser as a download. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  link.style.display = 'none'
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** `GET /api/logs/export` — downloads the filtered log as CSV or JSON; resolves to the file name. */
export async function downloadLogs(filters: LogFilters, format: 'csv' | 'json'): Promise<string> {
  const response = await authorisedGet(exportUrl(filters, format))
  const name = attachmentName(response.headers.get('Content-Disposition'), `logs.${format}`)
  saveBlob(await response.blob(), name)
  return name
}
