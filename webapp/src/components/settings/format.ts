/** How a settings value reads in a diff: text as is, lists and objects as compact JSON, absent as "—". */
export function showValue(value: unknown): string {
  if (value === undefined) return '—'
  if (typeof value === 'string') return value === '' ? '""' : value
  return JSON.stringify(value)
}
