import { apiRequest } from './client'
import type { PoolState, QueueAction, QueueActionResult, QueueList } from '@/types/queue'

/** `GET /api/pool` — the signed-in user's execution pool. */
export function fetchPool(signal?: AbortSignal): Promise<PoolState> {
  return apiRequest<PoolState>('/pool', { signal })
}

/** `GET /api/queue` — queued signals in priority order. */
export function fetchQueue(signal?: AbortSignal): Promise<QueueList> {
  return apiRequest<QueueList>('/queue', { signal })
}

/** Promote (`POST …/promote`), force add (`POST …/force`) or remove (`DELETE`) — trader. */
export function queueAction(id: string, action: QueueAction): Promise<QueueActionResult> {
  const path = `/queue/${encodeURIComponent(id)}`
  if (action === 'remove') return apiRequest<QueueActionResult>(path, { method: 'DELETE' })
  return apiRequest<QueueActionResult>(`${path}/${action}`, { method: 'POST' })
}
