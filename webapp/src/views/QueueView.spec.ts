import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import QueueView from './QueueView.vue'
import * as api from '@/api/queue'
import { useQueueStore } from '@/stores/queue'
import type { QueuedSignal } from '@/types/queue'
import { signInAs } from '@/testing/session'

vi.mock('@/api/queue', () => ({ fetchPool: vi.fn(), fetchQueue: vi.fn(), queueAction: vi.fn() }))

enableAutoUnmount(afterEach)

const Page = defineComponent({
  render: () => h(NMessageProvider, null, { default: () => h(QueueView) }),
})

function row(id: string, rank: number, extra: Partial<QueuedSignal> = {}): QueuedSignal {
  return {
    id,
    symbol: 'BTCUSDT',
    timeframe: 60,
    side: 'long',
    entry_price: '64000',
    replacement_count: 0,
    current_loss_percent: '-1.00',
    expected_profit_usd: '30.00',
    queued_at: new Date(Date.now() - 90_000).toISOString(),
    priority_rank: rank,
    is_pyramid_continuation: false,
    ...extra,
  }
}

async function mountPage(pinia: Pinia) {
  const wrapper = mount(Page, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

describe('QueueView', () => {
  let pinia: Pinia

  beforeEach(() => {
    pinia = createPinia()
    setActivePinia(pinia)
    vi.mocked(api.fetchPool).mockReset().mockResolvedValue({
      max_open_groups: 4,
      used: 3,
      free: 1,
      groups: ['g1', 'g2', 'g3'],
      over_limit: 0,
      slots: [
        { slot_id: 'g1', group_id: 'g1', forced: false },
        { slot_id: 'g2', group_id: 'g2', forced: false },
        { slot_id: 'g3', group_id: 'g3', forced: false },
      ],
    })
    vi.mocked(api.fetchQueue)
      .mockReset()
      .mockResolvedValue({
        items: [
          row('b', 2, { symbol: 'ETHUSDT', current_loss_percent: '-0.51', replacement_count: 2 }),
          row('a', 1, { is_pyramid_continuation: true }),
        ],
        total: 2,
      })
    vi.mocked(api.queueAction).mockReset()
  })

  it('draws the slots filled and empty and the queue in priority order', async () => {
    signInAs('trader', 'me')
    const wrapper = await mountPage(pinia)
    const slots = wrapper.findAll('[data-testid="pool-slot"]').map((s) => s.attributes('data-state'))
    expect(slots).toEqual(['held', 'held', 'held', 'free'])
    expect(wrapper.get('[data-testid="pool-count"]').text()).toContain('3 of 4 slots used')
    const rows = wrapper.findAll('[data-testid="queue-row"]')
    expect(rows.map((r) => r.attributes('data-id'))).toEqual(['a', 'b'])
    const [first, second] = rows
    expect(first?.find('[data-testid="queue-continuation"]').exists()).toBe(true)
    expect(second?.text()).toContain('ETHUSDT 60m long')
    expect(second?.text()).toContain('−0.51%')
    expect(second?.text()).toContain('30.00 USD')
    expect(second?.text()).toMatch(/1 min|90 s/)
  })

  it('updates live from queue.updated and pool.updated', async () => {
    signInAs('viewer', 'me')
    const wrapper = await mountPage(pinia)
    const store = useQueueStore()
    store.onQueueUpdated({ items: [row('b', 1), row('c', 2)], total: 2 })
    store.onPoolUpdated({ max_open_groups: 4, used: 4, free: 0, groups: ['g1', 'g2', 'g3', 'g4'] })
    await flushPromises()
    const rows = wrapper.findAll('[data-testid="queue-row"]')
    expect(rows.map((r) => r.attributes('data-id'))).toEqual(['b', 'c'])
    const slots = wrapper.findAll('[data-testid="pool-slot"]').map((s) => s.attributes('data-state'))
    expect(slots).toEqual(['held', 'held', 'held', 'held'])
  })

  it('hides the action buttons from viewers', async () => {
    signInAs('viewer', 'me')
    const wrapper = await mountPage(pinia)
    expect(wrapper.findAll('[data-testid="queue-row"]')).toHaveLength(2)
    expect(wrapper.find('[data-testid="queue-promote"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="queue-remove"]').exists()).toBe(false)
  })

  it('asks for confirmation before removing, then removes', async () => {
    signInAs('trader', 'me')
    vi.mocked(api.queueAction).mockResolvedValueOnce({ id: 'a', status: 'removed' })
    const wrapper = await mountPage(pinia)
    await wrapper.findAll('[data-testid="queue-remove"]')[0]?.trigger('click')
    await flushPromises()
    expect(api.queueAction).not.toHaveBeenCalled()
    const confirm = document.querySelector<HTMLButtonElement>('[data-testid="queue-confirm-remove"]')
    expect(confirm).not.toBeNull()
    confirm!.click()
    await flushPromises()
    expect(api.queueAction).toHaveBeenCalledWith('a', 'remove')
    expect(wrapper.findAll('[data-testid="queue-row"]').map((r) => r.attributes('data-id'))).toEqual(['b'])
  })

  it('shows the empty state', async () => {
    signInAs('trader', 'me')
    vi.mocked(api.fetchQueue).mockReset().mockResolvedValue({ items: [], total: 0 })
    const wrapper = await mountPage(pinia)
    expect(wrapper.find('[data-testid="queue-empty"]').exists()).toBe(true)
  })
})
