import { readonly, ref } from 'vue'

/** localStorage keys of the session's tokens. */
export const ACCESS_KEY = 'engine.access'
export const REFRESH_KEY = 'engine.refresh'

function read(key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key)
    else localStorage.setItem(key, value)
  } catch {
    // Storage unavailable (private mode, quota): the session lives in memory only.
  }
}

const access = ref<string | null>(read(ACCESS_KEY))
const refresh = ref<string | null>(read(REFRESH_KEY))

/** The current access token, reactive so views can follow the session. */
export const accessToken = readonly(access)

export function getAccessToken(): string | null {
  return access.value
}

export function getRefreshToken(): string | null {
  return refresh.value
}

export function saveTokens(accessValue: string, refreshValue: string): void {
  access.value = accessValue
  refresh.value = refreshValue
  write(ACCESS_KEY, accessValue)
  write(REFRESH_KEY, refreshValue)
}

export function saveAccessToken(value: string): void {
  access.value = value
  write(ACCESS_KEY, value)
}

export function clearTokens(): void {
  access.value = null
  refresh.value = null
  write(ACCESS_KEY, null)
  write(REFRESH_KEY, null)
}
