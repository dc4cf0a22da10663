import { apiRequest } from './client'
import type { RiskAction, RiskControl, RiskControlResult, RiskPanel, RiskRunResult } from '@/types/risk'

/** `GET /api/risk` — every open group's risk line and the projected plan. */
export async function fetchRiskPanel(signal?: AbortSignal): Promise<RiskPanel> {
  return apiRequest<RiskPanel>('/risk', { signal })
}

/** `GET /api/risk/actions` — the risk actions, newest first. */
export async function fetchRiskActions(limit = 50, signal?: AbortSignal): Promise<RiskAction[]> {
  const body = await apiRequest<{ items: RiskAction[] }>('/risk/actions', { query: { limit }, signal })
  return body.items
}

/** `POST /api/risk/run` (trader) — Run Now. */
export async function runRiskNow(): Promise<RiskRunResult> {
  return apiRequest<RiskRunResult>('/risk/run', { method: 'POST' })
}

/** `POST /api/risk/<id>/block|unblock|skip` (trader). */
export async function setRiskControl(groupId: string, control: RiskControl): Promise<RiskControlResult> {
  return apiRequest<RiskControlResult>(`/risk/${encodeURIComponent(groupId)}/${control}`, { method: 'POST' })
}
