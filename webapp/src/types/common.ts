/** A decimal number carried as a string so no precision is lost (e.g. `"64250.5"`). */
export type DecimalString = string

/** An ISO-8601 UTC timestamp (e.g. `"2026-11-21T10:15:00Z"`). */
export type IsoTime = string

/** A UUID as issued by the server. */
export type Uuid = string

/** The body of every error the server returns (API.md). */
export interface ApiErrorBody {
  error: {
    code: string
    message: string
    fields?: Record<string, string[]>
  }
}
