import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, apiRequest, setClientHooks } from './client'
import { clearTokens, getAccessToken, getRefreshToken, saveTokens } from './tokens'

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

const expired = () =>
  json(401, { error: { code: 'token_expired', message: 'access token expired', fields: {} } })

/** The Authorization header and URL of each fetch call. */
function calls(fetchMock: ReturnType<typeof vi.fn>): { url: string; auth: string | undefined }[] {
  return fetchMock.mock.calls.map(([url, init]) => ({
    url: String(url),
    auth: (init as RequestInit).headers
      ? ((init as RequestInit).headers as Record<string, string>).Authorization
      : undefined,
  }))
}

describe('apiRequest', () => {
  const onSessionExpired = vi.fn()
  const onAccessRenewed = vi.fn()
  let fetchMock: ReturnType<typeof vi.fn>

  beforeEach(() => {
    saveTokens('old-access', 'the-refresh')
    fetchMock = vi.fn()
    vi.stubGlobal('fetch', fetchMock)
    onSessionExpired.mockReset()
    onAccessRenewed.mockReset()
    setClientHooks({ onSessionExpired, onAccessRenewed })
  })

  afterEach(() => {
    vi.unstubAllGlobals()
    clearTokens()
  })

  it('sends the stored access token to /api/...', async () => {
    fetchMock.mockResolvedValueOnce(json(200, { items: [] }))
    await expect(apiRequest('/positions', { query: { status: 'open' } })).resolves.toEqual({ items: [] })
    expect(calls(fetchMock)).toEqual([{ url: '/api/positions?status=open', auth: 'Bearer old-access' }])
  })

  it('on a 401 refreshes once with the refresh token, stores the new token and retries once', async () => {
    fetchMock
      .mockResolvedValueOnce(expired())
      .mockResolvedValueOnce(json(200, { access_token: 'new-access' }))
      .mockResolvedValueOnce(json(200, { items: ['ok'] }))

    await expect(apiRequest('/positions')).resolves.toEqual({ items: ['ok'] })

    expect(calls(fetchMock)).toEqual([
      { url: '/api/positions', auth: 'Bearer old-access' },
      { url: '/api/auth/refresh', auth: 'Bearer the-refresh' },
      { url: '/api/positions', auth: 'Bearer new-access' },
    ])
    expect(fetchMock.mock.calls[1]?.[1]).toMatchObject({ method: 'POST' })
    expect(getAccessToken()).toBe('new-access')
    expect(localStorage.getItem('engine.access')).toBe('new-access')
    expect(onAccessRenewed).toHaveBeenCalledWith('new-access')
    expect(onSessionExpired).not.toHaveBeenCalled()
  })

  it('gives up on a second 401: no second refresh, the error is thrown and the session ends', async () => {
    fetchMock
      .mockResolvedValueOnce(expired())
      .mockResolvedValueOnce(json(200, { access_token: 'new-access' }))
      .mockResolvedValueOnce(json(401, { error: { code: 'user_inactive', message: 'account deactivated' } }))

    const error = await apiRequest('/positions').catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 401, code: 'user_inactive', message: 'account deactivated' })
    expect(fetchMock).toHaveBeenCalledTimes(3)
    expect(onSessionExpired).toHaveBeenCalledTimes(1)
    expect(getAccessToken()).toBeNull()
  })

  it('when the refresh is refused, clears the tokens, ends the session and throws the 401', async () => {
    fetchMock
      .mockResolvedValueOnce(expired())
      .mockResolvedValueOnce(json(401, { error: { code: 'token_revoked', message: 'revoked' } }))

    await expect(apiRequest('/positions')).rejects.toMatchObject({ status: 401, code: 'token_expired' })
    expect(fetchMock).toHaveBeenCalledTimes(2)
    expect(getAccessToken()).toBeNull()
    expect(getRefreshToken()).toBeNull()
    expect(localStorage.getItem('engine.refresh')).toBeNull()
    expect(onSessionExpired).toHaveBeenCalledTimes(1)
  })

  it('shares one refresh between requests that fail together', async () => {
    fetchMock.mockImplementation(async (url: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).Authorization
      if (url === '/api/auth/refresh') return json(200, { access_token: 'new-access' })
      return auth === 'Bearer new-access' ? json(200, { url }) : expired()
    })

    await Promise.all([apiRequest('/positions'), apiRequest('/queue'), apiRequest('/risk')])

    const refreshes = calls(fetchMock).filter((call) => call.url === '/api/auth/refresh')
    expect(refreshes).toHaveLength(1)
  })

  it('retries with a token renewed by another request while this one was in flight', async () => {
    fetchMock.mockImplementationOnce(async () => {
      saveTokens('renewed-elsewhere', 'the-refresh')
      return expired()
    })
    fetchMock.mockResolvedValueOnce(json(200, { ok: true }))

    await expect(apiRequest('/positions')).resolves.toEqual({ ok: true })
    expect(calls(fetchMock).map((call) => call.auth)).toEqual(['Bearer old-access', 'Bearer renewed-elsewhere'])
  })

  it('does not refresh on a 401 from the login endpoint: the message is the answer', async () => {
    fetchMock.mockResolvedValueOnce(
      json(401, { error: { code: 'invalid_credentials', message: 'wrong login or password' } }),
    )

    await expect(
      apiRequest('/auth/login', { method: 'POST', body: { login: 'x', password: 'y' }, bearer: null }),
    ).rejects.toMatchObject({ status: 401, message: 'wrong login or password' })
    expect(fetchMock).toHaveBeenCalledTimes(1)
    expect(calls(fetchMock)[0]?.auth).toBeUndefined()
    expect(onSessionExpired).not.toHaveBeenCalled()
  })

  it('carries field errors from a 422 so forms can show them', async () => {
    fetchMock.mockResolvedValueOnce(
      json(422, {
        error: {
          code: 'validation_failed',
          message: 'invalid input',
          fields: { email: ['already registered'], password: ['too short', 'needs a digit'] },
        },
      }),
    )

    const error = (await apiRequest('/auth/register', { method: 'POST', body: {} }).catch(
      (caught: unknown) => caught,
    )) as ApiError

    expect(error.status).toBe(422)
    expect(error.fieldMessage('email')).toBe('already registered')
    expect(error.fieldMessage('password')).toBe('too short needs a digit')
    expect(error.fieldMessage('username')).toBeUndefined()
  })

  it('turns a non-JSON error page and a network failure into ApiErrors', async () => {
    fetchMock
      .mockResolvedValueOnce(new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }))
      .mockRejectedValueOnce(new TypeError('Failed to fetch'))

    await expect(apiRequest('/positions')).rejects.toMatchObject({ status: 502, code: 'http_502' })
    await expect(apiRequest('/positions')).rejects.toMatchObject({ status: 0, code: 'network_error' })
  })

  it('keeps the session when the refresh endpoint itself is down (5xx)', async () => {
    fetchMock
      .mockResolvedValueOnce(expired())
      .mockResolvedValueOnce(json(503, { error: { code: 'dependency_down', message: 'redis down' } }))

    await expect(apiRequest('/positions')).rejects.toMatchObject({ status: 503 })
    expect(getRefreshToken()).toBe('the-refresh')
    expect(onSessionExpired).not.toHaveBeenCalled()
  })
})
