import type { IsoTime, Uuid } from './common'

/** Roles in increasing order of power: viewer < trader < manager < admin (SPEC §8). */
export const ROLES = ['viewer', 'trader', 'manager', 'admin'] as const
export type Role = (typeof ROLES)[number]

/** `GET /api/auth/me`. */
export interface UserProfile {
  id: Uuid
  email: string
  username: string
  role: Role
  webhook_url: string
  created_at: IsoTime
}

export interface LoginRequest {
  /** Email or username. */
  login: string
  password: string
}

export interface RegisterRequest {
  email: string
  username: string
  password: string
}

/** Answer of register (201) and login (200). */
export interface AuthSession {
  user: UserProfile
  access_token: string
  refresh_token: string
}

/** Answer of `POST /api/auth/refresh`. */
export interface RefreshedAccess {
  access_token: string
}
