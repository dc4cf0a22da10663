import type { Uuid } from './common'
import type { ExchangeAccount } from './accounts'

export type OnboardingStepKey = 'exchange_key' | 'capital' | 'webhook' | 'test_signal'

/** `GET /api/onboarding`: progress read from the user's real data. */
export interface OnboardingProgress {
  steps: { key: OnboardingStepKey; done: boolean }[]
  current: OnboardingStepKey | null
  complete: boolean
  has_account: boolean
  simulator_account: {
    id: Uuid
    label: string
    exchange: string
    market_type: string
    valid: boolean
    error: string | null
  } | null
  settings: { version: number; total_capital_usd: string; max_open_groups: number }
  webhook_url: string
  test_group: { id: Uuid; symbol: string; status: string; account_id: Uuid } | null
}

/** `POST /api/onboarding/simulator-account`. */
export type SimulatorAccount = ExchangeAccount & { validation: { valid: boolean; error: string | null } }

/** `POST /api/onboarding/test-signal`: the webhook's own answer plus the account it went to. */
export interface TestSignalAnswer {
  status?: string
  signal_id?: string
  account_id: Uuid
}
