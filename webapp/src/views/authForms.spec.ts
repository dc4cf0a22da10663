import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import LoginView from './LoginView.vue'
import RegisterView from './RegisterView.vue'
import * as authApi from '@/api/auth'
import { ApiError } from '@/api/errors'

vi.mock('@/api/auth', () => ({ fetchProfile: vi.fn(), login: vi.fn(), register: vi.fn(), logout: vi.fn() }))
vi.mock('@/realtime/socket', () => ({ openRealtime: vi.fn(), closeRealtime: vi.fn() }))

const Blank = { template: '<div />' }

async function mountView(view: typeof LoginView | typeof RegisterView) {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/login', component: Blank },
      { path: '/register', component: Blank },
      { path: '/positions', component: Blank },
      { path: '/', component: Blank },
    ],
  })
  await router.push('/login')
  const pinia = createPinia()
  setActivePinia(pinia)
  const wrapper = mount(view, { global: { plugins: [pinia, router] }, attachTo: document.body })
  return { wrapper, router }
}

describe('LoginView', () => {
  beforeEach(() => vi.mocked(authApi.login).mockReset())

  it("shows the server's message when sign-in is refused", async () => {
    vi.mocked(authApi.login).mockRejectedValueOnce(
      new ApiError(429, 'rate_limited', 'too many attempts, try again in 60 s'),
    )
    const { wrapper } = await mountView(LoginView)

    await wrapper.get('[data-testid="login-login"]').setValue('trader')
    await wrapper.get('[data-testid="login-password"]').setValue('Secret12')
    await wrapper.get('form').trigger('submit')
    await flushPromises()

    expect(authApi.login).toHaveBeenCalledWith({ login: 'trader', password: 'Secret12' })
    expect(wrapper.get('[data-testid="login-error"]').text()).toContain('too many attempts, try again in 60 s')
    wrapper.unmount()
  })
})

describe('RegisterView', () => {
  beforeEach(() => vi.mocked(authApi.register).mockReset())

  it('ticks the password rules as the password is typed', async () => {
    const { wrapper } = await mountView(RegisterView)
    const rule = (id: string) => wrapper.get(`[data-testid="password-rule-${id}"]`).attributes('data-met')

    await wrapper.get('[data-testid="register-password"]').setValue('abc')
    expect([rule('length'), rule('uppercase'), rule('digit')]).toEqual(['false', 'false', 'false'])

    await wrapper.get('[data-testid="register-password"]').setValue('Abcdefg1')
    expect([rule('length'), rule('uppercase'), rule('digit')]).toEqual(['true', 'true', 'true'])
    wrapper.unmount()
  })

  it('does not send a password that fails the policy', async () => {
    const { wrapper } = await mountView(RegisterView)
    await wrapper.get('[data-testid="register-email"]').setValue('new@example.com')
    await wrapper.get('[data-testid="register-username"]').setValue('newbie')
    await wrapper.get('[data-testid="register-password"]').setValue('weakpass')
    await wrapper.get('form').trigger('submit')
    await flushPromises()

    expect(authApi.register).not.toHaveBeenCalled()
    expect(wrapper.get('[data-testid="register-password-field"]').text()).toContain('does not meet the policy')
    wrapper.unmount()
  })

  it("shows the server's field errors under their fields", async () => {
    vi.mocked(authApi.register).mockRejectedValueOnce(
      new ApiError(409, 'conflict', 'already taken', {
        email: ['email already registered'],
        username: ['username already taken'],
      }),
    )
    const { wrapper } = await mountView(RegisterView)
    await wrapper.get('[data-testid="register-email"]').setValue('dup@example.com')
    await wrapper.get('[data-testid="register-username"]').setValue('dup')
    await wrapper.get('[data-testid="register-password"]').setValue('Secret123')
    await wrapper.get('form').trigger('submit')
    await flushPromises()

    expect(authApi.register).toHaveBeenCalledWith({
      email: 'dup@example.com',
      username: 'dup',
      password: 'Secret123',
    })
    expect(wrapper.get('[data-testid="register-email-field"]').text()).toContain('email already registered')
    expect(wrapper.get('[data-testid="register-username-field"]').text()).toContain('username already taken')
    expect(wrapper.find('[data-testid="register-error"]').exists()).toBe(false)
    wrapper.unmount()
  })
})
