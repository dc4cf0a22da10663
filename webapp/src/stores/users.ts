import { defineStore } from 'pinia'
import { ref } from 'vue'
import * as usersApi from '@/api/users'
import { ApiError } from '@/api/errors'
import type { AdminUser, InviteRequest, InviteResult, RegistrationMode, UserChanges } from '@/types/users'

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/** Users and registration mode, for admins. */
export const useUsersStore = defineStore('users', () => {
  const items = ref<AdminUser[]>([])
  const registration = ref<RegistrationMode | null>(null)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  /** Users with a change in flight. */
  const saving = ref<Record<string, boolean>>({})

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      const [users, mode] = await Promise.all([usersApi.fetchUsers(), usersApi.fetchRegistrationMode()])
      items.value = users
      registration.value = mode
      loaded.value = true
    } catch (caught) {
      error.value = asApiError(caught)
    } finally {
      loading.value = false
    }
  }

  function replace(user: AdminUser): void {
    const at = items.value.findIndex((u) => u.id === user.id)
    if (at >= 0) items.value.splice(at, 1, user)
    else items.value.push(user)
  }

  async function invite(request: InviteRequest): Promise<InviteResult> {
    const result = await usersApi.inviteUser(request)
    replace(result.user)
    return result
  }

  async function update(id: string, changes: UserChanges): Promise<AdminUser> {
    saving.value[id] = true
    try {
      const user = await usersApi.updateUser(id, changes)
      replace(user)
      return user
    } finally {
      delete saving.value[id]
    }
  }

  async function setRegistration(mode: RegistrationMode): Promise<RegistrationMode> {
    registration.value = await usersApi.setRegistrationMode(mode)
    return registration.value
  }

  function reset(): void {
    items.value = []
    registration.value = null
    loading.value = false
    loaded.value = false
    error.value = null
    saving.value = {}
  }

  return { items, registration, loading, loaded, error, saving, load, invite, update, setRegistration, reset }
})
