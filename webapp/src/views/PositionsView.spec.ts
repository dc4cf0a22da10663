import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import PositionsView from './PositionsView.vue'
import { ApiError } from '@/api/errors'
import { closePosition, fetchPositionDetail, fetchPositionGroups } from '@/api/positions'
import { usePositionsStore } from '@/stores/positions'
import { useSessionStore } from '@/stores/session'
import { makeDetail, makeGroup, makeLeg, makeOrderUpdate, makePyramid } from '@/testing/groups'
import type { Role } from '@/types/auth'

vi.mock('@/api/positions', () => ({
  fetchPositionGroups: vi.fn(),
  fetchPositionDetail: vi.fn(),
  closePosition: vi.fn(),
}))
const fetchGroups = vi.mocked(fetchPositionGroups)
const fetchDetail = vi.mocked(fetchPositionDetail)
const close = vi.mocked(closePosition)

enableAutoUnmount(afterEach)

/** The page as the app shows it: inside Naive's message provider (toasts). */
const Page = defineComponent({
  render: () => h(NMessageProvider, null, { default: () => h(PositionsView) }),
})

const WEBHOOK = 'https://engine.example/api/webhook/8d7e0c1a-3b7f-4c1e-9f49-1f1f0c2a9b11'

async function mountPage(pinia: Pinia) {
  const wrapper = mount(Page, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

function signInAs(role: Role): void {
  const session = useSessionStore()
  if (session.user) session.user = { ...session.user, role }
}

/** Naive renders popovers and toasts outside the component, into <body>. */
function inBody(selector: string): HTMLElement | null {
  return document.body.querySelector<HTMLElement>(selector)
}

describe('PositionsView', () => {
  let pinia: Pinia

  beforeEach(() => {
    pinia = createPinia()
    setActivePinia(pinia)
    fetchGroups.mockReset()
    fetchDetail.mockReset()
    close.mockReset()
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

  it('shows a live update of a listed group in its row: new PnL, new status', async () => {
    fetchGroups.mockResolvedValueOnce([
      makeGroup({ id: 'a', symbol: 'BTCUSDT', status: 'active', unrealized_pnl_usd: '-12.3' }),
      makeGroup({ id: 'b', symbol: 'ETHUSDT', status: 'active', unrealized_pnl_usd: '4' }),
    ])
    const wrapper = await mountPage(pinia)
    const store = usePositionsStore()
    const updated = { ...store.groups[0]!, unrealized_pnl_usd: '45.6', status: 'closing' as const }

    store.receive(updated)
    store.flushLive()
    await flushPromises()

    const rows = wrapper.findAll('[data-testid="position-row"]')
    expect(rows[0]?.text()).toContain('+45.60')
    expect(rows[0]?.text()).not.toContain('−12.30')
    expect(rows[0]?.attributes('data-status')).toBe('closing')
    expect(rows[0]?.find('[data-testid="close-position"]').attributes('data-state')).toBe('closing')
    expect(rows[1]?.text()).toContain('+4.00')
  })

  it('shows the server message when loading fails', async () => {
    fetchGroups.mockRejectedValueOnce(new ApiError(503, 'dependency_down', 'database unavailable'))
    const wrapper = await mountPage(pinia)

    expect(wrapper.get('[data-testid="positions-error"]').text()).toContain('database unavailable')
    expect(wrapper.find('[data-testid="positions-empty"]').exists()).toBe(false)
  })

  it('expands a row into its legs and events, read once from the engine', async () => {
    const group = makeGroup({ id: 'g1', symbol: 'BTCUSDT' })
    fetchGroups.mockResolvedValueOnce([group])
    fetchDetail.mockResolvedValue(
      makeDetail({
        ...group,
        pyramids: [
          makePyramid({
            index: 0,
            legs: [
              makeLeg({ leg: 0, client_order_id: 'l0', status: 'partially_filled', quantity: '0.00062', filled_quantity: '0.00031' }),
              makeLeg({ leg: 1, client_order_id: 'l1', status: 'open' }),
            ],
          }),
        ],
        events: [
          { kind: 'status', from_status: 'waiting', to_status: 'live', detail: {}, created_at: '2026-11-21T10:15:00Z' },
          { kind: 'order_filled', from_status: 'open', to_status: 'partially_filled', detail: { message: 'leg 0 filled 0.00031' }, created_at: '2026-11-21T10:16:00Z' },
        ],
      }),
    )
    const wrapper = await mountPage(pinia)
    expect(wrapper.find('[data-testid="position-detail"]').exists()).toBe(false)

    await wrapper.get('[data-testid="position-expand-g1"]').trigger('click')
    await flushPromises()

    const detail = wrapper.get('[data-testid="position-detail"]')
    const legs = detail.findAll('[data-testid="leg-row"]')
    expect(legs.map((l) => l.attributes('data-status'))).toEqual(['partially_filled', 'open'])
    expect(legs[0]?.get('[data-testid="leg-progress"]').attributes('data-percent')).toBe('50')
    const events = detail.get('[data-testid="position-events"]').findAll('[data-testid="position-event"]')
    expect(events.map((e) => e.attributes('data-kind'))).toEqual(['order_filled', 'status']) // newest first
    expect(events[0]?.text()).toContain('open')
    expect(events[0]?.text()).toContain('→')
    expect(events[0]?.text()).toContain('leg 0 filled 0.00031')

    // Collapse and expand again: the cached detail is shown, not read again.
    await wrapper.get('[data-testid="position-expand-g1"]').trigger('click')
    await wrapper.get('[data-testid="position-expand-g1"]').trigger('click')
    await flushPromises()
    expect(wrapper.findAll('[data-testid="leg-row"]')).toHaveLength(2)
    expect(fetchDetail).toHaveBeenCalledTimes(1)

    // A live order update changes the leg on screen.
    usePositionsStore().applyOrderUpdate(
      makeOrderUpdate({ group_id: 'g1', pyramid_index: 0, leg: 1, client_order_id: 'l1', status: 'filled', filled_quantity: '0.00062' }),
    )
    await flushPromises()
    const updated = wrapper.findAll('[data-testid="leg-row"]')[1]
    expect(updated?.attributes('data-status')).toBe('filled')
    expect(updated?.get('[data-testid="leg-progress"]').attributes('data-percent')).toBe('100')
  })

  it('shows an empty detail and a failed one with its message', async () => {
    fetchGroups.mockResolvedValueOnce([makeGroup({ id: 'g1' }), makeGroup({ id: 'g2' })])
    fetchDetail
      .mockResolvedValueOnce(makeDetail({ id: 'g1', pyramids: [], events: [] }))
      .mockRejectedValueOnce(new ApiError(500, 'internal', 'engine exploded'))
    const wrapper = await mountPage(pinia)

    await wrapper.get('[data-testid="position-expand-g1"]').trigger('click')
    await wrapper.get('[data-testid="position-expand-g2"]').trigger('click')
    await flushPromises()

    const [empty, failed] = wrapper.findAll('[data-testid="position-detail"]')
    expect(empty?.find('[data-testid="position-detail-empty"]').exists()).toBe(true)
    expect(empty?.get('[data-testid="position-events"]').text()).toContain('No events yet')
    expect(failed?.get('[data-testid="position-detail-error"]').text()).toContain('engine exploded')
  })

  it('hides the close button from viewers', async () => {
    signInAs('viewer')
    fetchGroups.mockResolvedValueOnce([makeGroup({ id: 'g1', status: 'active' })])
    const wrapper = await mountPage(pinia)

    expect(wrapper.findAll('[data-testid="position-row"]')).toHaveLength(1)
    expect(wrapper.find('[data-testid="close-position"]').exists()).toBe(false)
  })

  it('shows the close button on open groups only, for traders', async () => {
    fetchGroups.mockResolvedValueOnce([
      makeGroup({ id: 'open', status: 'active' }),
      makeGroup({ id: 'done', status: 'closed' }),
      makeGroup({ id: 'going', status: 'closing' }),
    ])
    const wrapper = await mountPage(pinia)

    const rows = wrapper.findAll('[data-testid="position-row"]')
    const button = (i: number) => rows[i]?.find('[data-testid="close-position"]')
    expect(button(0)?.exists()).toBe(true)
    expect(button(0)?.attributes('disabled')).toBeUndefined()
    expect(button(1)?.exists()).toBe(false)
    expect(button(2)?.attributes('disabled')).toBeDefined()
  })

  it('asks for confirmation, then calls the close endpoint and confirms with a toast', async () => {
    fetchGroups.mockResolvedValueOnce([makeGroup({ id: 'g1', symbol: 'BTCUSDT', timeframe: 60, side: 'long' })])
    close.mockResolvedValueOnce({})
    const wrapper = await mountPage(pinia)

    await wrapper.get('[data-testid="close-position"]').trigger('click')
    await flushPromises()
    expect(close).not.toHaveBeenCalled()
    expect(document.body.textContent).toContain(
      'Close BTCUSDT 60m long at market? Open orders are cancelled and the filled quantity is sold.',
    )

    inBody('[data-testid="close-position-confirm"]')?.click()
    await flushPromises()

    expect(close).toHaveBeenCalledWith('g1')
    expect(document.body.textContent).toContain('Closing BTCUSDT 60m long at market.')
  })

  it("shows the server's message when the close is refused", async () => {
    fetchGroups.mockResolvedValueOnce([makeGroup({ id: 'g1', symbol: 'ETHUSDT', side: 'short' })])
    close.mockRejectedValueOnce(new ApiError(409, 'conflict', 'position group is already closing'))
    const wrapper = await mountPage(pinia)

    await wrapper.get('[data-testid="close-position"]').trigger('click')
    await flushPromises()
    expect(document.body.textContent).toContain('the filled quantity is bought back')
    inBody('[data-testid="close-position-confirm"]')?.click()
    await flushPromises()

    expect(close).toHaveBeenCalledWith('g1')
    expect(document.body.textContent).toContain('position group is already closing')
  })
})
