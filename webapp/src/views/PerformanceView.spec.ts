import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import PerformanceView from './PerformanceView.vue'
import { fetchPerformance } from '@/api/performance'
import { makePerformance } from '@/components/performance/testing'
import { usePerformanceStore } from '@/stores/performance'

vi.mock('@/api/performance', () => ({ fetchPerformance: vi.fn(), downloadTradesCsv: vi.fn() }))
// The charts draw on <canvas>, which jsdom lacks: their own modules are left out here.
vi.mock('@/components/performance/EquityChart.vue', () => ({
  __esModule: true,
  default: { render: () => h('div', { 'data-testid': 'perf-equity-chart' }) },
}))
vi.mock('@/components/performance/PnlHistogram.vue', () => ({
  __esModule: true,
  default: { render: () => h('div', { 'data-testid': 'perf-histogram' }) },
}))
vi.mock('@/components/performance/TvlGauge.vue', () => ({
  __esModule: true,
  default: { render: () => h('div', { 'data-testid': 'perf-tvl' }) },
}))
const fetchMock = vi.mocked(fetchPerformance)

enableAutoUnmount(afterEach)

const Page = defineComponent({
  render: () => h(NMessageProvider, null, { default: () => h(PerformanceView) }),
})

async function mountPage(pinia: Pinia) {
  const wrapper = mount(Page, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  await vi.dynamicImportSettled() // the charts are async components
  await flushPromises()
  return wrapper
}

describe('PerformanceView', () => {
  let pinia: Pinia

  beforeEach(() => {
    pinia = createPinia()
    setActivePinia(pinia)
    fetchMock.mockReset()
  })

  it('shows the KPIs, the tables and the charts of the range', async () => {
    fetchMock.mockResolvedValue(makePerformance())
    const wrapper = await mountPage(pinia)

    expect(wrapper.get('[data-testid="perf-kpi-win-rate"]').text()).toContain('50.0%')
    expect(wrapper.get('[data-testid="perf-kpi-profit-factor"]').text()).toContain('2.60')
    expect(wrapper.get('[data-testid="perf-kpi-sharpe"]').text()).toContain('annualised √365')
    expect(wrapper.get('[data-testid="perf-kpi-max-drawdown"]').text()).toContain('2026-03-02 23:55')
    expect(wrapper.find('[data-testid="perf-equity-chart"]').exists()).toBe(true)
    expect(wrapper.get('[data-testid="perf-by-symbol"]').text()).toContain('BTCUSDT')
    expect(wrapper.get('[data-testid="perf-by-timeframe"]').text()).toContain('1h')
    const days = wrapper.get('[data-testid="perf-daily"]').text()
    expect(days.indexOf('2026-03-02')).toBeLessThan(days.indexOf('2026-03-01')) // newest first
    expect(wrapper.find('[data-testid="perf-empty"]').exists()).toBe(false)
  })

  it('says plainly when no trade has closed yet', async () => {
    fetchMock.mockResolvedValue(
      makePerformance({
        trades: { count: 0, wins: 0, losses: 0, breakeven: 0, realized: '0', gross_profit: '0', gross_loss: '0' },
        equity_curve: [],
        distribution: [],
        by_symbol: [],
        by_timeframe: [],
        daily: [],
      }),
    )
    const store = usePerformanceStore()
    store.preset = 'all'
    const wrapper = await mountPage(pinia)

    expect(wrapper.get('[data-testid="perf-empty"]').text()).toContain('No closed trades yet')
    expect(wrapper.find('[data-testid="perf-no-equity"]').exists()).toBe(true)
    expect(wrapper.get('[data-testid="perf-export"]').attributes('disabled')).toBeDefined()
  })

  it('changing the range reloads', async () => {
    fetchMock.mockResolvedValue(makePerformance())
    const wrapper = await mountPage(pinia)
    fetchMock.mockClear()

    await wrapper.get('[data-testid="perf-range-7d"] input').setValue(true)
    await flushPromises()

    expect(fetchMock).toHaveBeenCalledTimes(1)
    expect(usePerformanceStore().preset).toBe('7d')
  })
})
