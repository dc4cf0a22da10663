import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia } from 'pinia'
import AckAllButton from './AckAllButton.vue'
import AlertLine from './AlertLine.vue'
import { ApiError } from '@/api/errors'
import { makeAlert } from '@/testing/dashboard'
import { signInAs } from '@/testing/session'

/** The pieces the dashboard's alerts card and the Logs page's strip share. */

enableAutoUnmount(afterEach)

function inMessages(component: object, props: Record<string, unknown>, slot?: string) {
  const Page = defineComponent({
    render: () =>
      h(NMessageProvider, null, {
        default: () => h('ul', [h(component, props, slot ? { default: () => slot } : undefined)]),
      }),
  })
  return mount(Page, { attachTo: document.body })
}

describe('AlertLine', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it("shows the level, the parent's wording and acknowledges this line for a trader", async () => {
    signInAs('trader')
    const acknowledge = vi.fn().mockResolvedValue(undefined)
    const line = makeAlert({ id: 'a7', level: 'CRITICAL' })
    const wrapper = inMessages(
      AlertLine,
      { line, acknowledge, ackTestid: 'ack', acknowledged: 'Alert acknowledged' },
      'exchange unreachable',
    )
    const item = wrapper.get('li')
    expect(item.attributes('data-level')).toBe('CRITICAL')
    expect(item.text()).toContain('CRITICAL')
    expect(item.text()).toContain('exchange unreachable')
    await wrapper.get('[data-testid="ack"]').trigger('click')
    await flushPromises()
    expect(acknowledge).toHaveBeenCalledWith('a7')
    expect(document.body.textContent).toContain('Alert acknowledged')
  })

  it("says the server's reason when acknowledging fails", async () => {
    signInAs('trader')
    const acknowledge = vi.fn().mockRejectedValue(new ApiError(404, 'not_found', 'log line not found'))
    const wrapper = inMessages(AlertLine, { line: makeAlert(), acknowledge, ackTestid: 'ack' })
    await wrapper.get('[data-testid="ack"]').trigger('click')
    await flushPromises()
    expect(document.body.textContent).toContain('Could not acknowledge: log line not found')
  })

  it('offers no Ack to a viewer', () => {
    signInAs('viewer')
    const wrapper = inMessages(AlertLine, { line: makeAlert(), acknowledge: vi.fn(), ackTestid: 'ack' })
    expect(wrapper.find('[data-testid="ack"]').exists()).toBe(false)
  })
})

describe('AckAllButton', () => {
  beforeEach(() => setActivePinia(createPinia()))

  function confirmButton(): HTMLElement | null {
    return document.body.querySelector('[data-testid="all-confirm"]')
  }

  it('acknowledges only once confirmed and says how many went', async () => {
    signInAs('trader')
    const acknowledgeAll = vi.fn().mockResolvedValue(1)
    const wrapper = inMessages(AckAllButton, { acknowledgeAll, moreHidden: true, testid: 'all' })
    await wrapper.get('[data-testid="all"]').trigger('click')
    await flushPromises()
    expect(acknowledgeAll).not.toHaveBeenCalled()
    expect(document.body.textContent).toContain('including those not shown')
    confirmButton()!.click()
    await flushPromises()
    expect(acknowledgeAll).toHaveBeenCalledTimes(1)
    expect(document.body.textContent).toContain('1 alert acknowledged')
  })

  it('is not offered to a viewer', () => {
    signInAs('viewer')
    const wrapper = inMessages(AckAllButton, { acknowledgeAll: vi.fn(), moreHidden: false, testid: 'all' })
    expect(wrapper.find('[data-testid="all"]').exists()).toBe(false)
  })
})
