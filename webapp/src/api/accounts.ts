import { apiRequest } from './client'
import type {
  AccountCreate,
  AccountList,
  AccountValidation,
  CreatedAccount,
  ExchangeAccount,
} from '@/types/accounts'

/** `GET /api/accounts` — the user's exchange accounts, keys masked, with breaker state. */
export async function fetchAccounts(signal?: AbortSignal): Promise<ExchangeAccount[]> {
  const body = await apiRequest<AccountList>('/accounts', { signal })
  return body.items
}

/** `POST /api/accounts` (trader) — stores the key and runs the connectivity check. */
export function createAccount(account: AccountCreate): Promise<CreatedAccount> {
  return apiRequest<CreatedAccount>('/accounts', { method: 'POST', body: account })
}

/** `POST /api/accounts/<id>/validate` (trader) — runs the connectivity check again. */
export function validateAccount(id: string): Promise<AccountValidation> {
  return apiRequest<AccountValidation>(`/accounts/${encodeURIComponent(id)}/validate`, { method: 'POST' })
}

/** `DELETE /api/accounts/<id>` (trader) — refused (409) while the account has open groups. */
export async function deleteAccount(id: string): Promise<void> {
  await apiRequest<undefined>(`/accounts/${encodeURIComponent(id)}`, { method: 'DELETE' })
}
