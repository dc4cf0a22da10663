import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as authApi from '@/api/auth'
import { ApiError } from '@/api/errors'
import { accessToken, clearTokens, getAccessToken, getRefreshToken, saveTokens } from '@/api/tokens'
import { closeRealtime, openRealtime } from '@/realtime/socket'
import { useDashboardStore } from '@/stores/dashboard'
import { useOnboardingStore } from '@/stores/onboarding'
import { usePositionsStore } from '@/stores/positions'
import { useRiskStore } from '@/stores/risk'
import { roleAtLeast } from '@/utils/roles'
import type { AuthSession, LoginRequest, RegisterRequest, Role, UserProfile } from '@/types/auth'

/** Who is signed in: tokens (kept in localStorage), profile, role checks. */
export const useSessionStore = defineStore('session', () => {
  const user = ref<UserProfile | null>(null)
  /** Why the profile could not be loaded (engine unreachable); the session itself is kept. */
  const profileError = ref<ApiError | null>(null)

  const isAuthenticated = computed(() => accessToken.value !== null)
  const role = computed<Role | null>(() => user.value?.role ?? null)

  /** True when the signed-in user's role is at least `required`. */
  function can(required: Role): boolean {
    return user.value !== null && roleAtLeast(user.value.role, required)
  }

  async function loadProfile(): Promise<void> {
    try {
      user.value = await authApi.fetchProfile()
      profileError.value = null
    } catch (caught) {
      if (!(caught instanceof ApiError)) throw caught
      profileError.value = caught
    }
  }

  async function begin(session: AuthSession): Promise<void> {
    saveTokens(session.access_token, session.refresh_token)
    user.value = session.user
    openRealtime(session.access_token)
    // /me is the source of the webhook URL; the login answer's user may be shorter.
    await loadProfile()
  }

  async function login(credentials: LoginRequest): Promise<void> {
    await begin(await authApi.login(credentials))
  }

  async function register(form: RegisterRequest): Promise<void> {
    await begin(await authApi.register(form))
  }

  /** After a page reload: stored tokens, no profile yet. */
  async function restore(): Promise<void> {
    const token = getAccessToken()
    if (!token || user.value) return
    await loadProfile()
    const current = getAccessToken() // may have been renewed while loading
    if (current) openRealtime(current)
  }

  /** Forgets the session locally: tokens, profile, live connection, loaded data. */
  function clear(): void {
    clearTokens()
    user.value = null
    profileError.value = null
    closeRealtime()
    usePositionsStore().reset()
    useDashboardStore().reset()
    useOnboardingStore().reset()
    useRiskStore().reset()
  }

  /** Revokes the tokens on the server (best effort), then forgets the session. */
  async function logout(): Promise<void> {
    const token = getAccessToken()
    const refreshToken = getRefreshToken()
    try {
      if (token) await authApi.logout(token, refreshToken)
    } catch {
      // Already expired or the engine is down: the local session ends anyway.
    } finally {
      clear()
    }
  }

  return {
    user,
    profileError,
    isAuthenticated,
    role,
    can,
    login,
    register,
    restore,
    loadProfile,
    logout,
    clear,
  }
})
