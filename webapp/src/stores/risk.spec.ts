import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { fetchRiskActions, fetchRiskPanel } from '@/api/risk'
import { RISK_REREAD_THROTTLE_MS, useRiskStore } from './risk'
import type { RiskNotice, RiskPanel } from '@/types/risk'

vi.mock('@/api/risk', () => ({
  fetchRiskPanel: vi.fn(),
  fetchRiskActions: vi.fn(),
  runRiskNow: vi.fn(),
  setRiskControl: vi.fn(),
}))
const panelApi = vi.mocked(fetchRiskPanel)
const actionsApi = vi.mocked(fetchRiskActions)

function panel(evaluatedAt: string): RiskPanel {
  return {
    enabled: true,
    evaluated_at: evaluatedAt,
    groups: [],
    plan: { loser: null, required_usd: null, winners: [], covered_usd: null, will_act: false, reason: null },
    last_run_at: '2026-12-05T11:59:00.000Z',
    next_run_at: '2026-12-05T12:00:00.000Z',
    last_action: null,
  }
}

const NOTICE: RiskNotice = {
  user_id: 'u',
  cause: 'scheduled',
  outcome: 'no_action',
  enabled: true,
  last_run_at: '2026-12-05T12:00:00.000Z',
  next_run_at: '2026-12-05T12:01:00.000Z',
}

/** `GET /api/risk` answers that the test releases one by one, in order. */
function heldAnswers(): Array<() => void> {
  const release: Array<() => void> = []
  panelApi.mockImplementation(
    () =>
      new Promise<RiskPanel>((resolve) => {
        const n = release.length + 1
        release.push(() => resolve(panel(`read ${n}`)))
      }),
  )
  return release
}

describe('risk store: risk.updated notices', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    panelApi.mockReset()
    actionsApi.mockReset()
    actionsApi.mockResolvedValue([])
    vi.useFakeTimers({ now: new Date('2026-12-05T12:00:00Z') })
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('reads nothing while no view shows the panel', async () => {
    panelApi.mockResolvedValue(panel('never'))
    const store = useRiskStore()
    for (let i = 0; i < 5; i += 1) store.onUpdated(NOTICE)
    await vi.advanceTimersByTimeAsync(RISK_REREAD_THROTTLE_MS * 3)
    expect(panelApi).not.toHaveBeenCalled()
  })

  it('keeps one read in flight and makes one trailing read for the notices that came meanwhile', async () => {
    const release = heldAnswers()
    const store = useRiskStore()
    store.watch()
    await vi.advanceTimersByTimeAsync(0)
    expect(panelApi).toHaveBeenCalledTimes(1) // the page opening
    for (let i = 0; i < 5; i += 1) store.onUpdated(NOTICE) // a run, then controls, while it reads
    await vi.advanceTimersByTimeAsync(RISK_REREAD_THROTTLE_MS * 3)
    expect(panelApi).toHaveBeenCalledTimes(1) // never two at once
    release[0]!()
    await vi.advanceTimersByTimeAsync(0)
    expect(store.panel?.evaluated_at).toBe('read 1')
    await vi.advanceTimersByTimeAsync(RISK_REREAD_THROTTLE_MS)
    expect(panelApi).toHaveBeenCalledTimes(2) // one trailing read for all five
    release[1]!()
    await vi.advanceTimersByTimeAsync(RISK_REREAD_THROTTLE_MS * 3)
    expect(store.panel?.evaluated_at).toBe('read 2')
    expect(panelApi).toHaveBeenCalledTimes(2)
  })

  it('merges a burst that arrives between reads into one read, after the throttle', async () => {
    panelApi.mockResolvedValue(panel('fresh'))
    const store = useRiskStore()
    store.watch()
    await vi.advanceTimersByTimeAsync(0)
    for (let i = 0; i < 10; i += 1) store.onUpdated(NOTICE)
    await vi.advanceTimersByTimeAsync(RISK_REREAD_THROTTLE_MS - 100)
    expect(panelApi).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(200)
    expect(panelApi).toHaveBeenCalledTimes(2)
  })

  it('shows the notice’s schedule at once and stops re-reading when the page closes', async () => {
    const release = heldAnswers()
    const store = useRiskStore()
    const unwatch = store.watch()
    release[0]!()
    await vi.advanceTimersByTimeAsync(0)
    store.onUpdated(NOTICE)
    expect(store.panel?.last_run_at).toBe(NOTICE.last_run_at)
    expect(store.panel?.next_run_at).toBe(NOTICE.next_run_at)
    unwatch() // before the scheduled re-read
    await vi.advanceTimersByTimeAsync(RISK_REREAD_THROTTLE_MS * 3)
    store.onUpdated(NOTICE)
    await vi.advanceTimersByTimeAsync(RISK_REREAD_THROTTLE_MS * 3)
    expect(panelApi).toHaveBeenCalledTimes(1)
  })
})
