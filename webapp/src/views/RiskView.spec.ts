import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import RiskView from './RiskView.vue'
import { timerRemaining, timerText } from '@/components/risk/timer'
import { fetchRiskActions, fetchRiskPanel, runRiskNow, setRiskControl } from '@/api/risk'
import { useRiskStore } from '@/stores/risk'
import { signInAs } from '@/testing/session'
import type { RiskGroup, RiskPanel } from '@/types/risk'

vi.mock('@/api/risk', () => ({
  fetchRiskPanel: vi.fn(),
  fetchRiskActions: vi.fn(),
  runRiskNow: vi.fn(),
  setRiskControl: vi.fn(),
}))
const panelApi = vi.mocked(fetchRiskPanel)
const actionsApi = vi.mocked(fetchRiskActions)
const runApi = vi.mocked(runRiskNow)
const controlApi = vi.mocked(setRiskControl)

enableAutoUnmount(afterEach)

const Page = defineComponent({
  render: () => h(NMessageProvider, null, { default: () => h(RiskView) }),
})

const NOW = new Date('2026-12-05T12:00:00Z')

function row(fields: Partial<RiskGroup>): RiskGroup {
  return {
    group_id: 'g',
    symbol: 'BTCUSDT',
    timeframe: 60,
    side: 'long',
    status: 'active',
    pyramid_count: 5,
    max_pyramids: 5,
    loss_percent: '0',
    loss_usd: '0',
    timer_started_at: null,
    timer_expires_at: null,
    timer_expired: false,
    pyramids_reached: true,
    age_filter_passed: true,
    eligible: false,
    blocked: false,
    skip_once: false,
    reasons: [],
    is_winner_candidate: false,
    ...fields,
  }
}

/** The stack test's situation: BTC at −6.993 % (−13.972014 USD) and an ETH winner. */
function panel(): RiskPanel {
  return {
    enabled: true,
    evaluated_at: NOW.toISOString(),
    groups: [
      row({
        group_id: 'loser',
        loss_percent: '-6.993',
        loss_usd: '-13.972014',
        timer_started_at: '2026-12-05T11:00:00Z',
        timer_expires_at: '2026-12-05T12:00:00Z',
        timer_expired: true,
        eligible: true,
      }),
      row({
        group_id: 'winner',
        symbol: 'ETHUSDT',
        pyramid_count: 2,
        pyramids_reached: false,
        loss_percent: '2.997',
        loss_usd: '5.994',
        timer_started_at: '2026-12-05T11:58:30Z',
        timer_expires_at: '2026-12-05T12:01:30Z',
        reasons: ['timer_running', 'above_loss_threshold'],
        is_winner_candidate: true,
      }),
    ],
    plan: {
      loser: 'loser',
      required_usd: '13.972014',
      winners: [{ group_id: 'winner', close_quantity: '0.0999', close_usd: '5.994' }],
      covered_usd: '5.994',
      will_act: false,
      reason: 'insufficient_winners',
    },
    last_run_at: null,
    next_run_at: null,
    last_action: null,
  }
}

async function mountPage(pinia: Pinia) {
  const wrapper = mount(Page, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

function inBody(selector: string): HTMLElement | null {
  return document.body.querySelector<HTMLElement>(selector)
}

describe('timerRemaining', () => {
  it.each([
    [null, 'not started'],
    ['2026-12-05T12:00:00Z', 'expired'],
    ['2026-12-05T12:01:30Z', '01:30'],
    ['2026-12-05T13:00:05Z', '1:00:05'],
  ])('%s → %s', (expires, shown) => {
    expect(timerRemaining(expires, NOW)).toBe(shown)
  })
})

describe('timerText', () => {
  it('counts down only a stored timer; one not stored yet starts at the next evaluation', () => {
    const stored = { timer_pending: false, timer_expires_at: '2026-12-05T12:01:30Z' }
    const notYet = { timer_pending: true, timer_expires_at: '2026-12-05T13:00:00Z' }
    expect(timerText(stored, '2026-12-05T12:00:40Z', NOW)).toBe('01:30')
    expect(timerText(notYet, '2026-12-05T12:00:40Z', NOW)).toBe(
      'starts at the next evaluation (2026-12-05 12:00:40 UTC)',
    )
    expect(timerText(notYet, null, NOW)).toBe('starts at the next evaluation')
  })
})

describe('RiskView', () => {
  let pinia: Pinia

  beforeEach(() => {
    pinia = createPinia()
    setActivePinia(pinia)
    for (const mock of [panelApi, actionsApi, runApi, controlApi]) mock.mockReset()
    panelApi.mockResolvedValue(panel())
    actionsApi.mockResolvedValue([])
    vi.useFakeTimers({ now: NOW, toFake: ['Date', 'setInterval', 'clearInterval'] })
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('shows each group’s loss, timer, pyramids, eligibility and the projected plan', async () => {
    signInAs('trader')
    const wrapper = await mountPage(pinia)
    const all = wrapper.findAll('[data-testid="risk-row"]')
    expect(all).toHaveLength(2)
    const loserRow = all[0]!
    const winnerRow = all[1]!
    expect(loserRow.text()).toContain('−6.99')
    expect(loserRow.get('[data-testid="risk-timer"]').text()).toBe('expired')
    expect(loserRow.get('[data-testid="risk-eligible"]').text()).toBe('eligible')
    expect(winnerRow.get('[data-testid="risk-pyramids"]').text()).toBe('2/5')
    expect(winnerRow.get('[data-testid="risk-eligible"]').text()).toBe('timer running, above loss threshold')
    expect(winnerRow.get('[data-testid="risk-offset"]').text()).toBe('winner')
    const plan = wrapper.get('[data-testid="risk-plan"]')
    expect(plan.text()).toContain('13.97')
    expect(plan.get('[data-testid="risk-plan-verdict"]').text()).toBe('winners do not cover the loss')
    expect(wrapper.get('[data-testid="risk-plan-winner"]').text()).toContain('close 0.0999')
  })

  it('counts the timer down live', async () => {
    signInAs('viewer')
    const wrapper = await mountPage(pinia)
    const timer = () => wrapper.findAll('[data-testid="risk-timer"]')[1]!.text()
    expect(timer()).toBe('01:30')
    await vi.advanceTimersByTimeAsync(31_000)
    expect(timer()).toBe('00:59')
    await vi.advanceTimersByTimeAsync(60_000)
    expect(timer()).toBe('expired')
  })

  it('says when a timer not stored yet starts instead of counting it down', async () => {
    signInAs('viewer')
    const shown = panel()
    shown.next_run_at = '2026-12-05T12:00:40Z'
    shown.groups[1] = { ...shown.groups[1]!, timer_pending: true, timer_started_at: NOW.toISOString(),
      timer_expires_at: '2026-12-05T13:00:00Z' }
    panelApi.mockResolvedValue(shown)
    const wrapper = await mountPage(pinia)
    const timer = () => wrapper.findAll('[data-testid="risk-timer"]')[1]!.text()
    expect(timer()).toBe('starts at the next evaluation (2026-12-05 12:00:40 UTC)')
    await vi.advanceTimersByTimeAsync(5_000)
    expect(timer()).toBe('starts at the next evaluation (2026-12-05 12:00:40 UTC)')
  })

  it('hides Run Now and the controls from viewers', async () => {
    signInAs('viewer')
    const wrapper = await mountPage(pinia)
    expect(wrapper.find('[data-testid="risk-run"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="risk-block"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="risk-skip"]').exists()).toBe(false)
  })

  it('blocks a group only after confirmation, then re-reads the panel', async () => {
    signInAs('trader')
    controlApi.mockResolvedValueOnce({ group_id: 'loser', blocked: true, skip_once: false })
    const wrapper = await mountPage(pinia)
    await wrapper.findAll('[data-testid="risk-block"]')[0]!.trigger('click')
    await flushPromises()
    expect(controlApi).not.toHaveBeenCalled()
    const confirm = [...document.body.querySelectorAll<HTMLElement>('.n-popconfirm button')].find(
      (b) => b.textContent?.trim() === 'Yes',
    )
    confirm?.click()
    await flushPromises()
    expect(controlApi).toHaveBeenCalledWith('loser', 'block')
    expect(panelApi).toHaveBeenCalledTimes(2)
  })

  it('Run Now asks first and reports the outcome; risk.action events prepend history', async () => {
    signInAs('trader')
    runApi.mockResolvedValueOnce({
      outcome: 'blocked',
      reason: 'insufficient_winners',
      action: null,
      plan: panel().plan,
    })
    const wrapper = await mountPage(pinia)
    await wrapper.get('[data-testid="risk-run"]').trigger('click')
    await flushPromises()
    expect(runApi).not.toHaveBeenCalled()
    const confirm = [...document.body.querySelectorAll<HTMLElement>('.n-popconfirm button')].find(
      (b) => b.textContent?.trim() === 'Run now',
    )
    confirm?.click()
    await flushPromises()
    expect(runApi).toHaveBeenCalledOnce()
    expect(inBody('.n-message')?.textContent).toContain('blocked: winners do not cover the loss')
    useRiskStore().receiveAction({
      id: 'a1',
      created_at: '2026-12-05T12:00:01Z',
      loser: 'loser',
      trigger: 'scheduled',
      triggered_by: null,
      outcome: 'executed',
      reason: null,
      required_usd: '13.972014',
      covered_usd: '13.972014',
      plan: { ...panel().plan, net_realised_usd: '-1.462635' },
    })
    await flushPromises()
    const line = wrapper.get('[data-testid="risk-action"]').text().replace(/\s+/g, ' ')
    expect(line).toContain('executed · BTCUSDT 60m long · net −1.46 USD (scheduled)')
  })
})
