import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import OnboardingTour from './OnboardingTour.vue'
import * as onboardingApi from '@/api/onboarding'
import { ApiError } from '@/api/errors'
import { useOnboardingStore } from '@/stores/onboarding'
import { useSessionStore } from '@/stores/session'
import { makeProgress } from '@/testing/dashboard'

vi.mock('@/api/onboarding', () => ({
  fetchOnboarding: vi.fn(),
  addSimulatorAccount: vi.fn(),
  sendTestSignal: vi.fn(),
  saveQuickStart: vi.fn(),
}))
vi.mock('@/utils/clipboard', () => ({ copyText: vi.fn(() => Promise.resolve(true)) }))

enableAutoUnmount(afterEach)

const Page = defineComponent({ render: () => h(NMessageProvider, null, { default: () => h(OnboardingTour) }) })

async function mountTour(pinia: Pinia) {
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:a(.*)*', component: { template: '<div />' } }] })
  await router.push('/')
  mount(Page, { global: { plugins: [pinia, router] }, attachTo: document.body })
  await flushPromises()
}

const $ = (id: string) => document.body.querySelector<HTMLElement>(`[data-testid="${id}"]`)

describe('OnboardingTour', () => {
  let pinia: Pinia

  beforeEach(async () => {
    pinia = createPinia()
    setActivePinia(pinia)
    localStorage.clear()
    useSessionStore().user = {
      id: 'u1',
      email: 'x@example.com',
      username: 'x',
      role: 'trader',
      webhook_url: 'https://engine.example/api/webhook/u1',
      created_at: '2026-11-01T00:00:00Z',
    }
    vi.mocked(onboardingApi.fetchOnboarding).mockReset().mockResolvedValue(makeProgress())
    await useOnboardingStore().start('u1')
  })

  it('shows the connectivity check’s precise message when the simulator cannot be reached', async () => {
    vi.mocked(onboardingApi.addSimulatorAccount).mockResolvedValue({
      validation: { valid: false, error: 'exchange unreachable: connection refused (http://127.0.0.1:8900)' },
    } as never)
    await mountTour(pinia)
    $('onboarding-use-simulator')!.click()
    await flushPromises()
    const check = $('onboarding-simulator-check')!
    expect(check.dataset.valid).toBe('false')
    expect(check.textContent).toContain('exchange unreachable: connection refused (http://127.0.0.1:8900)')
  })

  it('fills a quick start, refuses a bad capital, and saves', async () => {
    vi.mocked(onboardingApi.saveQuickStart).mockResolvedValue({})
    useOnboardingStore().goTo(1)
    await mountTour(pinia)
    $('onboarding-quick-practice')!.click()
    await flushPromises()
    expect(($('onboarding-capital-input') as HTMLInputElement).value).toBe('1000')
    const input = $('onboarding-capital-input') as HTMLInputElement
    input.value = '-3'
    input.dispatchEvent(new Event('input'))
    await flushPromises()
    expect(($('onboarding-save-capital') as HTMLButtonElement).disabled).toBe(true)
    input.value = '2500'
    input.dispatchEvent(new Event('input'))
    await flushPromises()
    $('onboarding-save-capital')!.click()
    await flushPromises()
    expect(onboardingApi.saveQuickStart).toHaveBeenCalledWith('2500', 3)
    expect(useOnboardingStore().step).toBe(2)
  })

  it('shows the webhook URL and the template with copy buttons', async () => {
    useOnboardingStore().goTo(2)
    await mountTour(pinia)
    expect($('onboarding-webhook-url')!.textContent).toContain('/api/webhook/u1')
    expect($('onboarding-template')!.textContent).toContain('"execution_intent"')
    $('onboarding-copy-url')!.click()
    await flushPromises()
    const { copyText } = await import('@/utils/clipboard')
    expect(copyText).toHaveBeenCalledWith('https://engine.example/api/webhook/u1')
  })

  it('asks for the simulator account before a test signal, and shows the refusal as it came', async () => {
    useOnboardingStore().goTo(3)
    await mountTour(pinia)
    expect($('onboarding-test-needs-simulator')).not.toBeNull()
    expect(($('onboarding-send-test') as HTMLButtonElement).disabled).toBe(true)

    vi.mocked(onboardingApi.fetchOnboarding).mockResolvedValue(
      makeProgress({
        has_account: true,
        simulator_account: { id: 's1', label: 'Sim', exchange: 'binance', market_type: 'spot', valid: true, error: null },
      }),
    )
    await useOnboardingStore().load()
    await flushPromises()
    vi.mocked(onboardingApi.sendTestSignal).mockRejectedValue(
      new ApiError(401, 'unauthenticated', 'authentication failed'),
    )
    $('onboarding-send-test')!.click()
    await flushPromises()
    expect($('onboarding-test-error')!.textContent).toContain('authentication failed')
  })
})
