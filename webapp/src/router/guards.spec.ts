import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import { installGuards, routes } from './index'
import { fetchProfile } from '@/api/auth'
import { clearTokens, saveTokens } from '@/api/tokens'
import type { Role } from '@/types/auth'

vi.mock('@/api/auth', () => ({ fetchProfile: vi.fn(), login: vi.fn(), register: vi.fn(), logout: vi.fn() }))
vi.mock('@/realtime/socket', () => ({ openRealtime: vi.fn(), closeRealtime: vi.fn() }))

function signedInAs(role: Role): void {
  saveTokens('access', 'refresh')
  vi.mocked(fetchProfile).mockResolvedValue({
    id: 'u1',
    email: 'u@example.com',
    username: 'u',
    role,
    webhook_url: 'http://localhost/api/webhook/u1',
    created_at: '2026-11-01T00:00:00Z',
  })
}

describe('route guards', () => {
  let router: Router

  beforeEach(() => {
    setActivePinia(createPinia())
    router = createRouter({ history: createMemoryHistory(), routes })
    installGuards(router)
  })

  afterEach(() => {
    clearTokens()
    vi.mocked(fetchProfile).mockReset()
  })

  it('sends a visitor without a session to /login, remembering a deep link', async () => {
    await router.push('/risk')
    expect(router.currentRoute.value.fullPath).toBe('/login?redirect=/risk')

    await router.push('/')
    expect(router.currentRoute.value.fullPath).toBe('/login')
  })

  it('lets a visitor open the register page', async () => {
    await router.push('/register')
    expect(router.currentRoute.value.name).toBe('register')
  })

  it('sends a signed-in user away from /login to the dashboard', async () => {
    signedInAs('trader')
    await router.push('/login')
    expect(router.currentRoute.value.fullPath).toBe('/')
  })

  it('opens /users for an admin only', async () => {
    signedInAs('trader')
    await router.push('/users')
    expect(router.currentRoute.value.name).toBe('dashboard')

    setActivePinia(createPinia())
    signedInAs('admin')
    await router.push('/queue')
    await router.push('/users')
    expect(router.currentRoute.value.name).toBe('users')
  })
})
