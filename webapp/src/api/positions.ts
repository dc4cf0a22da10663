import { apiRequest } from './client'
import type { PositionGroup, PositionGroupList, PositionsFilter } from '@/types/positions'

/** `GET /api/positions?status=` — the user's position groups. */
export async function fetchPositionGroups(
  status: PositionsFilter,
  signal?: AbortSignal,
): Promise<PositionGroup[]> {
  const list = await apiRequest<PositionGroupList>('/positions', { query: { status }, signal })
  return list.items
}
