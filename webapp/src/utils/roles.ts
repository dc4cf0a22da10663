import { ROLES, type Role } from '@/types/auth'

/** True when `role` is at least `required` in viewer < trader < manager < admin. */
export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required)
}
