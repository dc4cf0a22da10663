import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useAccountsStore } from './accounts'
import * as api from '@/api/accounts'
import { ApiError } from '@/api/errors'
import type { ExchangeAccount } from '@/types/accounts'

vi.mock('@/api/accounts', () => ({
  fetchAccounts: vi.fn(),
  createAccount: vi.fn(),
  validateAccount: vi.fn(),
  deleteAccount: vi.fn(),
}))

function account(extra: Partial<ExchangeAccount> = {}): ExchangeAccount {
  return {
    id: 'a1',
    exchange: 'binance',
    market_type: 'spot',
    mode: 'simulated',
    label: 'Sim',
    api_key: 'AbC1…9xYz',
    is_active: true,
    last_validated_at: null,
    last_validation_error: null,
    created_at: '2026-11-01T00:00:00Z',
    breaker: 'closed',
    breaker_error: null,
    ...extra,
  }
}

describe('accounts store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    for (const fn of Object.values(api)) vi.mocked(fn).mockReset()
    vi.mocked(api.fetchAccounts).mockResolvedValue([account()])
  })

  it('adds an account and returns the connectivity check’s verdict as it came', async () => {
    const store = useAccountsStore()
    vi.mocked(api.createAccount).mockResolvedValueOnce({
      ...account(),
      validation: { valid: false, error: 'authentication failed: the exchange refused the API key' },
    })
    const created = await store.add({
      exchange: 'binance',
      market_type: 'spot',
      mode: 'simulated',
      api_key: 'key-12345678',
      api_secret: 'secret-12345678',
      label: 'Sim',
    })
    expect(created.validation.error).toBe('authentication failed: the exchange refused the API key')
    expect(store.items).toHaveLength(1)
    expect('validation' in (store.items[0] as object)).toBe(false)
  })

  it('records a failed validation on the row and removes a deleted account', async () => {
    const store = useAccountsStore()
    await store.load()
    vi.mocked(api.validateAccount).mockResolvedValueOnce({ valid: false, error: 'invalid key' })
    await store.validate('a1')
    expect(store.items[0]?.last_validation_error).toBe('invalid key')

    vi.mocked(api.deleteAccount).mockRejectedValueOnce(new ApiError(409, 'conflict', 'the account has open groups'))
    await expect(store.remove('a1')).rejects.toThrow('open groups')
    expect(store.items).toHaveLength(1)
    vi.mocked(api.deleteAccount).mockResolvedValueOnce()
    await store.remove('a1')
    expect(store.items).toEqual([])
    expect(store.busy).toEqual({})
  })
})
