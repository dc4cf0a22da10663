import { ApiError } from '@/api/errors'

/** The toast when acknowledging fails: the server's message, else what was thrown. */
export function ackFailed(caught: unknown): string {
  return `Could not acknowledge: ${caught instanceof ApiError ? caught.message : String(caught)}`
}
