/**
 * Typed fetch wrapper for the engine's REST API (same origin, `/api/...`).
 *
 * Sends the access token; on a 401 it renews the access token once with the refresh token and
 * retries the request once. A refused refresh ends the session (the app routes to /login).
 */
import { errorFromBody, networkError } from './errors'
import { clearTokens, getAccessToken, getRefreshToken, saveAccessToken } from './tokens'
import type { RefreshedAccess } from '@/types/auth'

export { ApiError } from './errors'

export const API_BASE = '/api'

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
type Query = Record<string, string | number | boolean | null | undefined>

export interface RequestOptions {
  method?: Method
  body?: unknown
  query?: Query
  /** Bearer token to send: omitted = the stored access token; null = none. */
  bearer?: string | null
  signal?: AbortSignal
}

/** Credential endpoints: a 401 there is the answer itself, never a reason to refresh. */
const NO_REFRESH_PATHS = new Set([
  '/auth/login',
  '/auth/register',
  '/auth/refresh',
  '/auth/logout',
  '/auth/forgot-password',
  '/auth/reset-password',
])

interface ClientHooks {
  /** The session is over (refresh refused): clear state and go to the login page. */
  onSessionExpired: () => void
  /** A fresh access token was stored (the live connection re-authenticates with it). */
  onAccessRenewed: (token: string) => void
}

const hooks: ClientHooks = {
  onSessionExpired: () => {},
  onAccessRenewed: () => {},
}

export function setClientHooks(next: Partial<ClientHooks>): void {
  Object.assign(hooks, next)
}

function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) params.append(key, String(value))
  }
  const search = params.toString()
  return `${API_BASE}${path}${search ? `?${search}` : ''}`
}

async function send(path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const bearer = options.bearer === undefined ? getAccessToken() : options.bearer
  if (bearer) headers.Authorization = `Bearer ${bearer}`
  let body: string | undefined
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  try {
    return await fetch(buildUrl(path, options.query), {
      method: options.method ?? 'GET',
      headers,
      body,
      signal: options.signal,
    })
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause
    throw networkError(cause)
  }
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text()
  if (!text) return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

async function parse<T>(response: Response): Promise<T> {
  const body = await readJson(response)
  if (!response.ok) throw errorFromBody(response.status, response.statusText, body)
  return body as T
}

function expireSession(): void {
  clearTokens()
  hooks.onSessionExpired()
}

async function renewAccess(): Promise<string | null> {
  const refreshToken = getRefreshToken()
  if (!refreshToken) {
    expireSession()
    return null
  }
  const response = await send('/auth/refresh', { method: 'POST', bearer: refreshToken })
  if (response.status >= 500) {
    // The engine is down, not the session: keep the tokens and let the caller see the error.
    throw errorFromBody(response.status, response.statusText, await readJson(response))
  }
  const body = await readJson(response)
  const token = response.ok ? (body as Partial<RefreshedAccess> | undefined)?.access_token : undefined
  if (!token) {
    expireSession()
    return null
  }
  saveAccessToken(token)
  hooks.onAccessRenewed(token)
  return token
}

let renewal: Promise<string | null> | null = null

/**
 * Renews the access token with the refresh token. Concurrent callers share one refresh call.
 * Resolves to the new token, or null when the refresh was refused (the session is then over);
 * rejects with an ApiError when the engine could not be reached.
 */
export function refreshAccessToken(): Promise<string | null> {
  renewal ??= renewAccess().finally(() => {
    renewal = null
  })
  return renewal
}

/** Calls `API_BASE + path` and returns the parsed JSON answer; throws ApiError on failure. */
export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const sentWith = getAccessToken()
  const first = await send(path, options)
  const mayRefresh = options.bearer === undefined && !NO_REFRESH_PATHS.has(path)
  if (first.status !== 401 || !mayRefresh) return parse<T>(first)

  // Another request may have renewed the token while this one was in flight.
  const current = getAccessToken()
  const token = current && current !== sentWith ? current : await refreshAccessToken()
  if (token === null) return parse<T>(first)

  const second = await send(path, options)
  // A freshly issued token refused again: the account cannot act (e.g. deactivated).
  if (second.status === 401) expireSession()
  return parse<T>(second)
}
