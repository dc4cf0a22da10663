import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { enableAutoUnmount, flushPromises, mount } from '@vue/test-utils'
import { NMessageProvider } from 'naive-ui'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import UsersView from './UsersView.vue'
import * as usersApi from '@/api/users'
import * as logsApi from '@/api/logs'
import { signInAs } from '@/testing/session'
import type { Role } from '@/types/auth'

vi.mock('@/api/users', () => ({
  fetchUsers: vi.fn(),
  fetchRegistrationMode: vi.fn(),
  inviteUser: vi.fn(),
  updateUser: vi.fn(),
  setRegistrationMode: vi.fn(),
}))
vi.mock('@/api/logs', () => ({ fetchAudit: vi.fn() }))

enableAutoUnmount(afterEach)

const Page = defineComponent({
  render: () => h(NMessageProvider, null, { default: () => h(UsersView) }),
})

async function mountPage(pinia: Pinia) {
  const wrapper = mount(Page, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

describe('UsersView role gating', () => {
  let pinia: Pinia

  beforeEach(() => {
    pinia = createPinia()
    setActivePinia(pinia)
    vi.mocked(usersApi.fetchUsers).mockReset().mockResolvedValue([
      {
        id: 'me',
        email: 'me@example.com',
        username: 'me',
        role: 'admin',
        is_active: true,
        webhook_url: '',
        created_at: '2026-11-01T00:00:00Z',
        last_login_at: null,
      },
      {
        id: 'u2',
        email: 'bob@example.com',
        username: 'bob',
        role: 'trader',
        is_active: true,
        webhook_url: '',
        created_at: '2026-11-02T00:00:00Z',
        last_login_at: null,
      },
    ])
    vi.mocked(usersApi.fetchRegistrationMode).mockReset().mockResolvedValue('open')
    vi.mocked(logsApi.fetchAudit).mockReset().mockResolvedValue({ items: [], next_cursor: null })
  })

  it.each<Role>(['viewer', 'trader', 'manager'])('shows a %s that only admins manage users, and asks nothing', async (role) => {
    signInAs(role, 'me')
    const wrapper = await mountPage(pinia)
    expect(wrapper.find('[data-testid="users-forbidden"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="users-table"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="user-invite"]').exists()).toBe(false)
    expect(usersApi.fetchUsers).not.toHaveBeenCalled()
  })

  it('lists users for an admin, who cannot demote or deactivate themself', async () => {
    signInAs('admin', 'me')
    const wrapper = await mountPage(pinia)
    const rows = wrapper.findAll('[data-testid="user-row"]')
    expect(rows.map((r) => r.attributes('data-username'))).toEqual(['me', 'bob'])
    expect(rows[0]!.find('[data-testid="user-active-toggle"]').exists()).toBe(false)
    expect(rows[1]!.find('[data-testid="user-active-toggle"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="registration-mode"]').attributes('data-mode')).toBe('open')
    expect(wrapper.find('[data-testid="users-forbidden"]').exists()).toBe(false)
  })
})
