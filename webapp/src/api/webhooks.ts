import { apiRequest } from './client'
import type { CursorPage, ReplayAnswer, WebhookLogRow } from '@/types/logs'

export interface WebhookQuery {
  status?: string | null
  symbol?: string | null
  classification?: string | null
  limit?: number
  cursor?: string | null
}

/** `GET /api/webhooks` — the webhook log, newest first, cursor paged. */
export function fetchWebhooks(query: WebhookQuery = {}, signal?: AbortSignal): Promise<CursorPage<WebhookLogRow>> {
  return apiRequest<CursorPage<WebhookLogRow>>('/webhooks', {
    query: {
      status: query.status || undefined,
      symbol: query.symbol || undefined,
      classification: query.classification || undefined,
      limit: query.limit ?? 50,
      cursor: query.cursor || undefined,
    },
    signal,
  })
}

/** `POST /api/webhooks/<id>/replay` (trader) — re-submits a logged webhook, marked as a replay. */
export function replayWebhook(id: string): Promise<ReplayAnswer> {
  return apiRequest<ReplayAnswer>(`/webhooks/${encodeURIComponent(id)}/replay`, { method: 'POST' })
}
