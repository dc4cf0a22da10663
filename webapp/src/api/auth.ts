import { apiRequest } from './client'
import type { AuthSession, LoginRequest, RegisterRequest, UserProfile } from '@/types/auth'

/** `POST /api/auth/register` → 201 with the new user and tokens. */
export function register(form: RegisterRequest): Promise<AuthSession> {
  return apiRequest<AuthSession>('/auth/register', { method: 'POST', body: form, bearer: null })
}

/** `POST /api/auth/login` with an email or a username. */
export function login(credentials: LoginRequest): Promise<AuthSession> {
  return apiRequest<AuthSession>('/auth/login', { method: 'POST', body: credentials, bearer: null })
}

/** `POST /api/auth/logout`: revokes the access token (header) and the refresh token (body). */
export function logout(accessToken: string, refreshToken: string | null): Promise<void> {
  return apiRequest<void>('/auth/logout', {
    method: 'POST',
    bearer: accessToken,
    body: { refresh_token: refreshToken },
  })
}

/** `GET /api/auth/me`: the signed-in user's profile, with their webhook URL. */
export function fetchProfile(): Promise<UserProfile> {
  return apiRequest<UserProfile>('/auth/me')
}
