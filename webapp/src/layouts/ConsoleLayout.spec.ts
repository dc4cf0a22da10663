import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, nextTick } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import ConsoleLayout from './ConsoleLayout.vue'
import { NARROW_CONSOLE } from '@/composables/useMediaQuery'
import { CONSOLE_PAGES } from '@/router/pages'
import { useSessionStore } from '@/stores/session'

enableAutoUnmount(afterEach)

/** A window whose width matches NARROW_CONSOLE or not, and that can be "rotated" later. */
function fakeWindow(narrow: boolean) {
  const listeners = new Set<(event: MediaQueryListEvent) => void>()
  const list = {
    matches: narrow,
    media: NARROW_CONSOLE,
    addEventListener: (_: string, fn: (event: MediaQueryListEvent) => void) => listeners.add(fn),
    removeEventListener: (_: string, fn: (event: MediaQueryListEvent) => void) => listeners.delete(fn),
  }
  vi.stubGlobal('matchMedia', (query: string) => {
    expect(query).toBe(NARROW_CONSOLE)
    return list
  })
  return {
    resize(toNarrow: boolean): void {
      list.matches = toNarrow
      listeners.forEach((fn) => fn({ matches: toNarrow } as MediaQueryListEvent))
    },
  }
}

const Blank = { render: () => h('p', 'page') }

async function mountLayout(): Promise<{ router: Router; wrapper: ReturnType<typeof mount> }> {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: CONSOLE_PAGES.map((page) => ({ path: page.path, name: page.key, component: Blank })),
  })
  await router.push('/')
  const Page = defineComponent({ render: () => h(NMessageProvider, null, { default: () => h(ConsoleLayout) }) })
  const wrapper = mount(Page, { global: { plugins: [router] }, attachTo: document.body })
  await flushPromises()
  return { router, wrapper }
}

/** The drawer is teleported into <body>, outside the wrapper. */
function drawerLink(key: string): HTMLElement | null {
  return document.body.querySelector<HTMLElement>(`.n-drawer [data-testid="nav-${key}"]`)
}

describe('ConsoleLayout at tablet widths', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    useSessionStore().user = {
      id: 'u1',
      email: 'trader@example.com',
      username: 'trader',
      role: 'trader',
      webhook_url: 'https://engine.example/api/webhook/u1',
      created_at: '2026-11-01T00:00:00Z',
    }
  })
  afterEach(() => vi.unstubAllGlobals())

  it('keeps the side menu beside the page on a wide window, with no menu button', async () => {
    fakeWindow(false)
    const { wrapper } = await mountLayout()
    expect(wrapper.find('.n-layout-sider').exists()).toBe(true)
    expect(wrapper.find('[data-testid="nav-positions"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="nav-toggle"]').exists()).toBe(false)
  })

  it('folds the menu into a drawer that the header button opens and a chosen page closes', async () => {
    fakeWindow(true)
    const { router, wrapper } = await mountLayout()
    expect(wrapper.find('.n-layout-sider').exists()).toBe(false)
    const toggle = wrapper.get('[data-testid="nav-toggle"]')
    expect(toggle.attributes('aria-expanded')).toBe('false')
    expect(drawerLink('positions')).toBeNull()

    await toggle.trigger('click')
    await flushPromises()
    expect(toggle.attributes('aria-expanded')).toBe('true')
    drawerLink('positions')!.click()
    await flushPromises()

    expect(router.currentRoute.value.name).toBe('positions')
    expect(toggle.attributes('aria-expanded')).toBe('false')
  })

  it('closes the drawer when the current page is chosen again (no route change)', async () => {
    fakeWindow(true)
    const { wrapper } = await mountLayout()
    const toggle = wrapper.get('[data-testid="nav-toggle"]')
    await toggle.trigger('click')
    await flushPromises()
    drawerLink('dashboard')!.click()
    await flushPromises()
    expect(toggle.attributes('aria-expanded')).toBe('false')
  })

  it('brings the side menu back and closes the drawer when the window widens', async () => {
    const window = fakeWindow(true)
    const { wrapper } = await mountLayout()
    await wrapper.get('[data-testid="nav-toggle"]').trigger('click')
    window.resize(false)
    await nextTick()
    await flushPromises()
    expect(wrapper.find('[data-testid="nav-toggle"]').exists()).toBe(false)
    expect(wrapper.find('.n-layout-sider').exists()).toBe(true)
    expect(drawerLink('positions')).toBeNull()
  })
})
