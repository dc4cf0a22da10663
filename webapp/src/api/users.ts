import { apiRequest } from './client'
import type { AdminUser, InviteRequest, InviteResult, RegistrationMode, UserChanges } from '@/types/users'

/** `GET /api/admin/users` (admin). */
export async function fetchUsers(): Promise<AdminUser[]> {
  const body = await apiRequest<{ items: AdminUser[] }>('/admin/users')
  return body.items
}

/** `POST /api/admin/users` (admin) — creates the user and answers a one-time invite link. */
export function inviteUser(request: InviteRequest): Promise<InviteResult> {
  return apiRequest<InviteResult>('/admin/users', { method: 'POST', body: request })
}

/** `PATCH /api/admin/users/<id>` (admin) — role and/or active flag. */
export function updateUser(id: string, changes: UserChanges): Promise<AdminUser> {
  return apiRequest<AdminUser>(`/admin/users/${encodeURIComponent(id)}`, { method: 'PATCH', body: changes })
}

/** `GET /api/admin/system` (admin). */
export async function fetchRegistrationMode(): Promise<RegistrationMode> {
  const body = await apiRequest<{ registration: RegistrationMode }>('/admin/system')
  return body.registration
}

/** `PUT /api/admin/system` (admin). */
export async function setRegistrationMode(registration: RegistrationMode): Promise<RegistrationMode> {
  const body = await apiRequest<{ registration: RegistrationMode }>('/admin/system', {
    method: 'PUT',
    body: { registration },
  })
  return body.registration
}
