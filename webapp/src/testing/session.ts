import { useSessionStore } from '@/stores/session'
import type { Role } from '@/types/auth'

/** Sign `id` (also its username) in with `role` in the active Pinia, as after a login. */
export function signInAs(role: Role, id = 'u1'): void {
  useSessionStore().user = {
    id,
    email: `${id}@example.com`,
    username: id,
    role,
    webhook_url: `https://engine.example/api/webhook/${id}`,
    created_at: '2026-11-01T00:00:00Z',
  }
}
