import type { Role } from './auth'
import type { IsoTime, Uuid } from './common'

/** A user as `GET /api/admin/users` lists them. */
export interface AdminUser {
  id: Uuid
  email: string
  username: string
  role: Role
  is_active: boolean
  webhook_url: string
  created_at: IsoTime
  last_login_at: IsoTime | null
}

export interface InviteRequest {
  email: string
  username: string
  role: Role
}

/** 201 of `POST /api/admin/users`: the one-time link the invited user sets a password with. */
export interface InviteResult {
  user: AdminUser
  invite_url: string
}

export type RegistrationMode = 'open' | 'invite'

export interface UserChanges {
  role?: Role
  is_active?: boolean
}
