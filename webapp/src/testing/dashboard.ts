import type { Dashboard, EngineStatus } from '@/types/dashboard'
import type { OnboardingProgress } from '@/types/onboarding'
import type { LogLine } from '@/types/logs'

export function makeEngine(over: Partial<EngineStatus> = {}): EngineStatus {
  return {
    status: 'running',
    message: 'trading',
    action: null,
    paused_at: null,
    pause_reason: null,
    account_id: null,
    accounts: [],
    can_pause: true,
    can_resume: false,
    ...over,
  }
}

export function makeAlert(over: Partial<LogLine> = {}): LogLine {
  return {
    id: 'a1',
    created_at: '2026-11-21T10:15:00.000Z',
    level: 'ERROR',
    category: 'ORDER',
    message: 'insufficient funds for BTCUSDT leg 2',
    symbol: 'BTCUSDT',
    context: {},
    acknowledged: false,
    user_id: 'u1',
    ...over,
  }
}

export function makeDashboard(over: Partial<Dashboard> = {}): Dashboard {
  return {
    active_groups: 3,
    pool: { used: 2, max: 10, free: 8, queued: 1 },
    queued: 1,
    pnl: {
      realized_usd: '110.25',
      unrealized_usd: '-30.5',
      total_usd: '79.75',
      total_percent: '0.7975',
      capital_usd: '10000',
    },
    last_webhook_at: '2026-11-21T10:10:00.000Z',
    last_webhook: { at: '2026-11-21T10:10:00.000Z', status: 'accepted', symbol: 'BTCUSDT' },
    engine_status: 'running',
    engine: makeEngine(),
    risk: { enabled: true, last_run_at: null, next_run_at: null, last_action: null },
    alerts: [makeAlert()],
    alerts_total: 1,
    ...over,
  }
}

export function makeProgress(over: Partial<OnboardingProgress> = {}): OnboardingProgress {
  return {
    steps: [
      { key: 'exchange_key', done: false },
      { key: 'capital', done: false },
      { key: 'webhook', done: false },
      { key: 'test_signal', done: false },
    ],
    current: 'exchange_key',
    complete: false,
    has_account: false,
    simulator_account: null,
    settings: { version: 0, total_capital_usd: '10000', max_open_groups: 10 },
    webhook_url: 'https://engine.example/api/webhook/u1',
    test_group: null,
    ...over,
  }
}
