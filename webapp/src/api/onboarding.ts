import { apiRequest } from './client'
import type { OnboardingProgress, SimulatorAccount, TestSignalAnswer } from '@/types/onboarding'

/** `GET /api/onboarding` — which steps of the tour are done. */
export function fetchOnboarding(): Promise<OnboardingProgress> {
  return apiRequest<OnboardingProgress>('/onboarding')
}

/** `POST /api/onboarding/simulator-account` (trader) — the practice account, checked. */
export function addSimulatorAccount(): Promise<SimulatorAccount> {
  return apiRequest<SimulatorAccount>('/onboarding/simulator-account', { method: 'POST' })
}

/** `POST /api/onboarding/test-signal` (trader) — a test entry through the webhook intake. */
export function sendTestSignal(symbol?: string): Promise<TestSignalAnswer> {
  return apiRequest<TestSignalAnswer>('/onboarding/test-signal', {
    method: 'POST',
    body: symbol ? { symbol } : {},
  })
}

/** `PUT /api/settings` with only the capital and the pool size (the quick-start step). */
export function saveQuickStart(totalCapitalUsd: string, maxOpenGroups: number): Promise<unknown> {
  return apiRequest('/settings', {
    method: 'PUT',
    body: {
      capital: { total_capital_usd: totalCapitalUsd },
      pool: { max_open_groups: maxOpenGroups },
      note: 'onboarding quick start',
    },
  })
}
