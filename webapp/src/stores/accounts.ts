import { defineStore } from 'pinia'
import { ref } from 'vue'
import * as accountsApi from '@/api/accounts'
import { ApiError } from '@/api/errors'
import type { AccountCreate, AccountValidation, CreatedAccount, ExchangeAccount } from '@/types/accounts'

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, 'unexpected', error instanceof Error ? error.message : String(error))
}

/** The user's exchange accounts (keys masked): list, add with the connectivity check, validate, delete. */
export const useAccountsStore = defineStore('accounts', () => {
  const items = ref<ExchangeAccount[]>([])
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  const adding = ref(false)
  /** Accounts with a validate or delete request in flight. */
  const busy = ref<Record<string, 'validating' | 'deleting'>>({})

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      items.value = await accountsApi.fetchAccounts()
      loaded.value = true
    } catch (caught) {
      error.value = asApiError(caught)
    } finally {
      loading.value = false
    }
  }

  /** Adds an account; the answer carries the check's verdict (stored even when the check failed). */
  async function add(account: AccountCreate): Promise<CreatedAccount> {
    adding.value = true
    try {
      const created = await accountsApi.createAccount(account)
      // eslint-disable-next-line @typescript-eslint/no-unused-vars
      const { validation, ...row } = created
      items.value = [...items.value.filter((a) => a.id !== row.id), row]
      void load() // the list also carries the breaker state
      return created
    } finally {
      adding.value = false
    }
  }

  async function validate(id: string): Promise<AccountValidation> {
    busy.value[id] = 'validating'
    try {
      const result = await accountsApi.validateAccount(id)
      items.value = items.value.map((a) =>
        a.id === id
          ? { ...a, last_validation_error: result.valid ? null : result.error, last_validated_at: new Date().toISOString() }
          : a,
      )
      return result
    } finally {
      delete busy.value[id]
    }
  }

  async function remove(id: string): Promise<void> {
    busy.value[id] = 'deleting'
    try {
      await accountsApi.deleteAccount(id)
      items.value = items.value.filter((a) => a.id !== id)
    } finally {
      delete busy.value[id]
    }
  }

  function reset(): void {
    items.value = []
    loading.value = false
    loaded.value = false
    error.value = null
    adding.value = false
    busy.value = {}
  }

  return { items, loading, loaded, error, adding, busy, load, add, validate, remove, reset }
})
