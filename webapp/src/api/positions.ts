import { apiRequest } from './client'
import type {
  CloseAccepted,
  PositionDetail,
  PositionGroup,
  PositionGroupList,
  PositionsFilter,
  Pyramid,
} from '@/types/positions'

/** `GET /api/positions?status=` — the user's position groups (the newest `POSITIONS_LIST_CAP`). */
export async function fetchPositionGroups(
  status: PositionsFilter,
  signal?: AbortSignal,
): Promise<PositionGroup[]> {
  const list = await apiRequest<PositionGroupList>('/positions', { query: { status }, signal })
  return list.items
}

function byNumber(a: number | null, b: number | null): number {
  return (a ?? Number.MAX_SAFE_INTEGER) - (b ?? Number.MAX_SAFE_INTEGER)
}

/** Missing lists read as empty; pyramids and legs in grid order. */
function normaliseDetail(raw: PositionDetail): PositionDetail {
  const pyramids: Pyramid[] = (raw.pyramids ?? [])
    .map((pyramid) => ({ ...pyramid, legs: [...(pyramid.legs ?? [])].sort((a, b) => byNumber(a.leg, b.leg)) }))
    .sort((a, b) => byNumber(a.index, b.index))
  return { ...raw, pyramids, events: raw.events ?? [] }
}

/** `GET /api/positions/<id>` — the group with its pyramids, legs and event history. */
export async function fetchPositionDetail(id: string, signal?: AbortSignal): Promise<PositionDetail> {
  const raw = await apiRequest<PositionDetail>(`/positions/${encodeURIComponent(id)}`, { signal })
  return normaliseDetail(raw)
}

/** `POST /api/positions/<id>/close` (trader) — cancel open orders, close the rest at market. */
export async function closePosition(id: string): Promise<CloseAccepted> {
  const body = await apiRequest<CloseAccepted | undefined>(`/positions/${encodeURIComponent(id)}/close`, {
    method: 'POST',
  })
  return body && typeof body === 'object' ? body : {}
}
