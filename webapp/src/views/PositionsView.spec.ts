import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import PositionsView from './PositionsView.vue'
import { ApiError } from '@/api/errors'
import { fetchPositionGroups } from '@/api/positions'
import { usePositionsStore } from '@/stores/positions'
import { useSessionStore } from '@/stores/session'
import { makeGroup } from '@/testing/groups'

vi.mock('@/api/positions', () => ({ fetchPositionGroups: vi.fn() }))
const fetchGroups = vi.mocked(fetchPositionGroups)

const WEBHOOK = 'https://engine.example/api/webhook/8d7e0c1a-3b7f-4c1e-9f49-1f1f0c2a9b11'

async function mountPage(pinia: Pinia) {
  const wrapper = mount(PositionsView, { global: { plugins: [pinia] } })
  await flushPromises()
  return wrapper
}

describe('PositionsView', () => {
  let pinia: Pinia

  beforeEach(() => {
    pinia = createPinia()
    setActivePinia(pinia)
    fetchGroups.mockReset()
    useSessionStore().user = {
      id: '8d7e0c1a-3b7f-4c1e-9f49-1f1f0c2a9b11',
      email: 'trader@example.com',
      username: 'trader',
      role: 'trader',
      webhook_url: WEBHOOK,
      created_at: '2026-11-01T00:00:00Z',
    }
  })

  it('shows the empty state with the webhook URL when there are no groups', async () => {
    fetchGroups.mockResolvedValueOnce([])
    const wrapper = await mountPage(pinia)

    const empty = wrapper.get('[data-testid="positions-empty"]')
    expect(empty.text()).toContain('No positions yet')
    expect(empty.text()).toContain(WEBHOOK)
    expect(wrapper.find('[data-testid="position-row"]').exists()).toBe(false)
    expect(fetchGroups).toHaveBeenCalledWith('open')
  })

  it('shows one row per group with its symbol, status and formatted numbers', async () => {
    fetchGroups.mockResolvedValueOnce([
      makeGroup({ id: 'a', symbol: 'BTCUSDT', status: 'active', unrealized_pnl_usd: '-12.3' }),
      makeGroup({ id: 'b', symbol: 'ETHUSDT', status: 'partially_filled', total_invested_usd: '1234567.5' }),
    ])
    const wrapper = await mountPage(pinia)

    expect(wrapper.find('[data-testid="positions-empty"]').exists()).toBe(false)
    const rows = wrapper.findAll('[data-testid="positions-table"] [data-testid="position-row"]')
    expect(rows).toHaveLength(2)
    expect(rows[0]?.attributes('data-status')).toBe('active')
    expect(rows[0]?.text()).toContain('BTCUSDT')
    expect(rows[0]?.text()).toContain('−12.30')
    expect(rows[0]?.text()).toContain('1/5') // pyramids
    expect(rows[1]?.attributes('data-status')).toBe('partially_filled')
    expect(rows[1]?.text()).toContain('ETHUSDT')
    expect(rows[1]?.text()).toContain('1,234,567.50')
  })

  it('adds a row when a group.updated event reaches the store, without reloading', async () => {
    fetchGroups.mockResolvedValueOnce([])
    const wrapper = await mountPage(pinia)

    usePositionsStore().upsert(makeGroup({ id: 'new', symbol: 'SOLUSDT', status: 'live' }))
    await flushPromises()

    const rows = wrapper.findAll('[data-testid="position-row"]')
    expect(rows).toHaveLength(1)
    expect(rows[0]?.text()).toContain('SOLUSDT')
    expect(fetchGroups).toHaveBeenCalledTimes(1)
  })

  it('shows the server message when loading fails', async () => {
    fetchGroups.mockRejectedValueOnce(new ApiError(503, 'dependency_down', 'database unavailable'))
    const wrapper = await mountPage(pinia)

    expect(wrapper.get('[data-testid="positions-error"]').text()).toContain('database unavailable')
    expect(wrapper.find('[data-testid="positions-empty"]').exists()).toBe(false)
  })
})
