import { apiRequest } from './client'
import type { Dashboard, EngineStatus } from '@/types/dashboard'

/** `GET /api/dashboard` — the dashboard's figures, read now. */
export function fetchDashboard(signal?: AbortSignal): Promise<Dashboard> {
  return apiRequest<Dashboard>('/dashboard', { signal })
}

/** `GET /api/engine` — the engine status with the action to take. */
export function fetchEngine(): Promise<EngineStatus> {
  return apiRequest<EngineStatus>('/engine')
}

/** `POST /api/engine/pause` (trader) — stop opening or extending groups. */
export function pauseEngine(): Promise<EngineStatus> {
  return apiRequest<EngineStatus>('/engine/pause', { method: 'POST' })
}

/** `POST /api/engine/resume` (trader) — 409 while the API keys are invalid. */
export function resumeEngine(): Promise<EngineStatus> {
  return apiRequest<EngineStatus>('/engine/resume', { method: 'POST' })
}

/** `POST /api/engine/apply` (trader) — Apply & Restart Engine for the stored settings. */
export function applyEngine(): Promise<EngineStatus> {
  return apiRequest<EngineStatus>('/engine/apply', { method: 'POST' })
}

/** `POST /api/jobs/session` (admin) — a 30-minute pass (HttpOnly cookie) to rq-dashboard. */
export function openJobsSession(): Promise<{ url: string; expires_in: number }> {
  return apiRequest<{ url: string; expires_in: number }>('/jobs/session', { method: 'POST' })
}
