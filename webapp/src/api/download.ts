import { refreshAccessToken } from './client'
import { errorFromBody, networkError } from './errors'
import { getAccessToken } from './tokens'

/** A GET for a file download (CSV/JSON exports): the session's token, one refresh on 401,
 *  and the contract's error shape turned into an ApiError. */
export async function authorisedGet(url: string): Promise<Response> {
  const get = (token: string | null) =>
    fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} }).catch((cause: unknown) => {
      throw networkError(cause)
    })
  let response = await get(getAccessToken())
  if (response.status === 401) {
    const token = await refreshAccessToken()
    if (token) response = await get(token)
  }
  if (!response.ok) {
    let body: unknown
    try {
      body = await response.json()
    } catch {
      body = undefined
    }
    throw errorFromBody(response.status, response.statusText, body)
  }
  return response
}

/** The file name a Content-Disposition header gives, or `fallback`. */
export function attachmentName(header: string | null, fallback: string): string {
  const match = header ? /filename="?([^";]+)"?/i.exec(header) : null
  return match?.[1] ?? fallback
}
