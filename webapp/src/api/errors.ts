import type { ApiErrorBody } from '@/types/common'

/** An error answered by the engine (or the network), in the contract's shape. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly fields: Readonly<Record<string, string[]>>

  constructor(status: number, code: string, message: string, fields: Record<string, string[]> = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.fields = fields
  }

  /** The server's reasons for one form field, joined for display; undefined when none. */
  fieldMessage(field: string): string | undefined {
    const reasons = this.fields[field]
    return reasons && reasons.length > 0 ? reasons.join(' ') : undefined
  }
}

/** Status 0: the request never got an answer. */
export function networkError(cause: unknown): ApiError {
  const error = new ApiError(0, 'network_error', 'Cannot reach the engine — check your connection.')
  error.cause = cause
  return error
}

function isErrorBody(body: unknown): body is ApiErrorBody {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false
  const inner = (body as { error: unknown }).error
  return typeof inner === 'object' && inner !== null && 'message' in inner
}

/** Builds the ApiError for a non-2xx answer, tolerating bodies that are not the contract's JSON. */
export function errorFromBody(status: number, statusText: string, body: unknown): ApiError {
  if (isErrorBody(body)) {
    const { code, message, fields } = body.error
    return new ApiError(status, code || `http_${status}`, message, fields ?? {})
  }
  return new ApiError(status, `http_${status}`, statusText || `The engine answered HTTP ${status}.`)
}
