import type { IsoTime, Uuid } from './common'

export const EXCHANGES = ['binance', 'bybit'] as const
export const MARKET_TYPES = ['spot', 'futures'] as const
export const ACCOUNT_MODES = ['simulated', 'paper', 'testnet', 'live'] as const

export type ExchangeName = (typeof EXCHANGES)[number]
export type MarketType = (typeof MARKET_TYPES)[number]
export type AccountMode = (typeof ACCOUNT_MODES)[number]

/** Circuit breaker of an account's exchange calls (`closed` = healthy). */
export type BreakerState = 'closed' | 'open' | 'half_open' | (string & {})

/** One row of `GET /api/accounts`: the key masked, never the secret. */
export interface ExchangeAccount {
  id: Uuid
  exchange: ExchangeName
  market_type: MarketType
  mode: AccountMode
  label: string
  /** Masked, e.g. "AbC1…9xYz". */
  api_key: string
  is_active: boolean
  last_validated_at: IsoTime | null
  last_validation_error: string | null
  created_at: IsoTime
  breaker?: BreakerState
  breaker_error?: string | null
}

export interface AccountList {
  items: ExchangeAccount[]
}

/** `POST /api/accounts`. */
export interface AccountCreate {
  exchange: ExchangeName
  market_type: MarketType
  mode: AccountMode
  api_key: string
  api_secret: string
  label: string
}

/** The connectivity and permission check's verdict; `error` says precisely what failed. */
export interface AccountValidation {
  valid: boolean
  error: string | null
}

/** 201 of `POST /api/accounts`. */
export interface CreatedAccount extends ExchangeAccount {
  validation: AccountValidation
}
