/** Quick-start templates for the capital step: capital and how many groups may be open. */
export interface QuickStart {
  key: string
  label: string
  capital: string
  maxOpenGroups: number
  note: string
}

export const QUICK_STARTS: readonly QuickStart[] = [
  { key: 'practice', label: 'Practice', capital: '1000', maxOpenGroups: 3, note: 'small grids, few at a time' },
  { key: 'standard', label: 'Standard', capital: '10000', maxOpenGroups: 10, note: 'the engine’s defaults' },
  { key: 'wide', label: 'Wide', capital: '50000', maxOpenGroups: 20, note: 'many symbols at once' },
]

/** Capital as the server accepts it (`capital.total_capital_usd`): a decimal above 0 and at most
 * 10^12, checked on the digits (never through a float). */
export function capitalError(text: string): string | null {
  const value = text.trim()
  const match = /^(\d+)(?:\.(\d+))?$/.exec(value)
  if (!match) return 'a positive amount in USD, e.g. 10000 or 2500.50'
  const whole = match[1]!.replace(/^0+(?=\d)/, '')
  const fraction = (match[2] ?? '').replace(/0+$/, '')
  if (whole === '0' && fraction === '') return 'must be more than 0'
  const tooBig = whole.length > 13 || (whole.length === 13 && (whole !== '1000000000000' || fraction !== ''))
  return tooBig ? 'at most 1,000,000,000,000' : null
}

export function maxGroupsError(value: number | null): string | null {
  if (value === null || !Number.isInteger(value) || value < 1) return 'at least 1'
  if (value > 1000) return 'at most 1000'
  return null
}
