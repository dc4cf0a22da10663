import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useUsersStore } from './users'
import * as api from '@/api/users'
import type { AdminUser } from '@/types/users'

vi.mock('@/api/users', () => ({
  fetchUsers: vi.fn(),
  fetchRegistrationMode: vi.fn(),
  inviteUser: vi.fn(),
  updateUser: vi.fn(),
  setRegistrationMode: vi.fn(),
}))

function makeUser(extra: Partial<AdminUser> = {}): AdminUser {
  return {
    id: 'u1',
    email: 'a@example.com',
    username: 'alice',
    role: 'trader',
    is_active: true,
    webhook_url: 'http://x/api/webhook/u1',
    created_at: '2026-11-01T00:00:00Z',
    last_login_at: null,
    ...extra,
  }
}

describe('users store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.mocked(api.fetchUsers).mockReset()
  })

  it('loads users and the registration mode together', async () => {
    vi.mocked(api.fetchUsers).mockResolvedValueOnce([makeUser()])
    vi.mocked(api.fetchRegistrationMode).mockResolvedValueOnce('invite')
    const store = useUsersStore()
    await store.load()
    expect(store.items.map((u) => u.username)).toEqual(['alice'])
    expect(store.registration).toBe('invite')
    expect(store.loaded).toBe(true)
  })

  it('adds an invited user and replaces a changed one in place', async () => {
    const store = useUsersStore()
    store.items = [makeUser()]
    vi.mocked(api.inviteUser).mockResolvedValueOnce({
      user: makeUser({ id: 'u2', username: 'bob' }),
      invite_url: 'http://x/reset-password?token=t',
    })
    const result = await store.invite({ email: 'b@example.com', username: 'bob', role: 'trader' })
    expect(result.invite_url).toContain('token=')
    expect(store.items.map((u) => u.username)).toEqual(['alice', 'bob'])

    vi.mocked(api.updateUser).mockResolvedValueOnce(makeUser({ role: 'viewer', is_active: false }))
    await store.update('u1', { role: 'viewer', is_active: false })
    expect(api.updateUser).toHaveBeenCalledWith('u1', { role: 'viewer', is_active: false })
    expect(store.items[0]).toMatchObject({ username: 'alice', role: 'viewer', is_active: false })
    expect(store.saving).toEqual({})
  })
})
