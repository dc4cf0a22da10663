import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import DashboardView from './DashboardView.vue'
import * as dashboardApi from '@/api/dashboard'
import * as onboardingApi from '@/api/onboarding'
import { useDashboardStore } from '@/stores/dashboard'
import { makeAlert, makeDashboard, makeEngine, makeProgress } from '@/testing/dashboard'
import { signInAs } from '@/testing/session'

vi.mock('@/api/dashboard', () => ({
  fetchDashboard: vi.fn(),
  fetchEngine: vi.fn(),
  pauseEngine: vi.fn(),
  resumeEngine: vi.fn(),
  applyEngine: vi.fn(),
  openJobsSession: vi.fn(),
}))
vi.mock('@/api/logs', () => ({ acknowledgeLog: vi.fn(), acknowledgeAllLogs: vi.fn() }))
vi.mock('@/api/onboarding', () => ({
  fetchOnboarding: vi.fn(),
  addSimulatorAccount: vi.fn(),
  sendTestSignal: vi.fn(),
  saveQuickStart: vi.fn(),
}))
const fetchMock = vi.mocked(dashboardApi.fetchDashboard)

enableAutoUnmount(afterEach)

const Page = defineComponent({
  render: () => h(NMessageProvider, null, { default: () => h(DashboardView) }),
})

async function mountPage(pinia: Pinia) {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/:any(.*)*', component: { template: '<div />' } }],
  })
  await router.push('/')
  const wrapper = mount(Page, { global: { plugins: [pinia, router] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

function inBody(selector: string): HTMLElement | null {
  return document.body.querySelector<HTMLElement>(selector)
}

describe('DashboardView', () => {
  let pinia: Pinia

  beforeEach(() => {
    pinia = createPinia()
    setActivePinia(pinia)
    fetchMock.mockReset()
    localStorage.clear()
    vi.mocked(onboardingApi.fetchOnboarding).mockReset().mockResolvedValue(
      makeProgress({ has_account: true, complete: true, current: null }),
    )
    signInAs('trader')
  })

  it('shows every figure, formatted for traders, with a second cue for the PnL sign', async () => {
    fetchMock.mockResolvedValue(
      makeDashboard({
        pnl: {
          realized_usd: '1234.5',
          unrealized_usd: '-1300.125',
          total_usd: '-65.625',
          total_percent: '-0.65625',
          capital_usd: '10000',
        },
      }),
    )
    const wrapper = await mountPage(pinia)

    expect(wrapper.get('[data-testid="dash-active-groups"]').text()).toContain('3')
    expect(wrapper.get('[data-testid="dash-pool-text"]').text()).toBe('2 / 10')
    expect(wrapper.get('[data-testid="dash-queued"]').text()).toContain('1')
    const total = wrapper.get('[data-testid="dash-pnl-total"]')
    // −65.625 rounds half away from zero to −65.63; typographic minus and a ▼ beside the colour.
    expect(total.text()).toContain('▼ \u221265.63 USD')
    expect(total.classes()).toContain('tone-loss')
    expect(wrapper.get('[data-testid="dash-pnl-percent"]').text()).toContain('\u22120.66% of 10,000.00')
    expect(wrapper.get('[data-testid="dash-pnl-unrealised"]').text()).toBe('\u22121,300.13')
    expect(wrapper.get('[data-testid="engine-banner"]').attributes('data-state')).toBe('running')
    expect(wrapper.findAll('[data-testid="dash-alert"]')).toHaveLength(1)
    expect(wrapper.get('[data-testid="dash-risk"]').text()).toContain('Enabled')
  })

  it('says what to do when there is nothing yet', async () => {
    fetchMock.mockResolvedValue(
      makeDashboard({
        active_groups: 0,
        pool: { used: 0, max: 10 },
        queued: 0,
        last_webhook_at: null,
        last_webhook: null,
        alerts: [],
        alerts_total: 0,
      }),
    )
    const wrapper = await mountPage(pinia)
    expect(wrapper.get('[data-testid="dash-groups-empty"]').text()).toContain('TradingView')
    expect(wrapper.get('[data-testid="dash-webhook-empty"]').text()).toContain('No webhook received yet')
    expect(wrapper.get('[data-testid="dash-alerts-empty"]').text()).toContain('Nothing needs your attention')
  })

  it('shows an error with the action to take, and no pause for a viewer', async () => {
    signInAs('viewer')
    fetchMock.mockResolvedValue(
      makeDashboard({
        engine_status: 'error',
        engine: makeEngine({
          status: 'error',
          message: 'error: invalid API credentials',
          action: 'Enter valid API keys in Settings',
          can_pause: false,
        }),
      }),
    )
    const wrapper = await mountPage(pinia)
    const banner = wrapper.get('[data-testid="engine-banner"]')
    expect(banner.attributes('data-state')).toBe('error')
    expect(wrapper.get('[data-testid="engine-action"]').text()).toContain('Enter valid API keys')
    expect(wrapper.find('[data-testid="engine-settings-link"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="engine-pause"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="dash-alert-ack"]').exists()).toBe(false)
  })

  it('pauses only after confirmation', async () => {
    fetchMock.mockResolvedValue(makeDashboard())
    vi.mocked(dashboardApi.pauseEngine).mockResolvedValue(
      makeEngine({ status: 'paused', message: 'trading paused: by the trader', action: 'Resume', can_pause: false, can_resume: true }),
    )
    const wrapper = await mountPage(pinia)
    await wrapper.get('[data-testid="engine-pause"]').trigger('click')
    await flushPromises()
    expect(dashboardApi.pauseEngine).not.toHaveBeenCalled()
    inBody('[data-testid="engine-pause-confirm"]')!.click()
    await flushPromises()
    expect(dashboardApi.pauseEngine).toHaveBeenCalledTimes(1)
    expect(wrapper.get('[data-testid="engine-banner"]').attributes('data-state')).toBe('paused')
    expect(wrapper.find('[data-testid="engine-resume"]').exists()).toBe(true)
  })

  it('updates live from events without a reload', async () => {
    fetchMock.mockResolvedValue(makeDashboard())
    const wrapper = await mountPage(pinia)
    const store = useDashboardStore()
    store.onEngineStatus(makeEngine({ status: 'degraded', message: 'exchange calls suspended', action: 'wait' }))
    store.onLogCreated(makeAlert({ id: 'new', level: 'CRITICAL', message: 'trading paused' }))
    store.onPoolUpdated({ used: 10, max: 10 })
    await flushPromises()
    expect(wrapper.get('[data-testid="engine-banner"]').attributes('data-state')).toBe('degraded')
    expect(wrapper.findAll('[data-testid="dash-alert"]')[0]!.attributes('data-id')).toBe('new')
    expect(wrapper.get('[data-testid="dash-pool-text"]').text()).toBe('10 / 10')
    expect(wrapper.get('[data-testid="dash-pool"]').text()).toContain('Full')
  })

  it('opens the setup tour by itself for a newcomer, and skipping is remembered', async () => {
    fetchMock.mockResolvedValue(makeDashboard({ active_groups: 0, alerts: [] }))
    vi.mocked(onboardingApi.fetchOnboarding).mockResolvedValue(makeProgress())
    const wrapper = await mountPage(pinia)
    expect(inBody('[data-testid="onboarding"]')?.dataset.step).toBe('exchange_key')
    expect(wrapper.get('[data-testid="onboarding-open"]').text()).toContain('Setup guide (0/4)')
    inBody('[data-testid="onboarding-skip"]')!.click()
    await flushPromises()
    expect(localStorage.getItem('onboarding:dismissed:u1')).toBe('1')
    wrapper.unmount()

    const again = await mountPage(pinia)
    await flushPromises()
    expect(again.find('[data-testid="onboarding-open"]').exists()).toBe(true)
    expect(useDashboardStore().data).not.toBeNull()
    const { useOnboardingStore } = await import('@/stores/onboarding')
    expect(useOnboardingStore().open).toBe(false)
  })

  it('offers the job dashboard to admins only', async () => {
    fetchMock.mockResolvedValue(makeDashboard())
    const asTrader = await mountPage(pinia)
    expect(asTrader.find('[data-testid="open-jobs"]').exists()).toBe(false)
    asTrader.unmount()
    signInAs('admin')
    const asAdmin = await mountPage(pinia)
    expect(asAdmin.find('[data-testid="open-jobs"]').exists()).toBe(true)
  })
})
