/** How a log level looks: a tag colour plus a symbol, so severity never depends on colour alone. */
export type TagType = 'default' | 'info' | 'success' | 'warning' | 'error'

export interface LevelLook {
  type: TagType
  symbol: string
  /** Lines that must stand out in the list (critical failures, errors). */
  highlight: 'none' | 'error' | 'critical'
}

const LOOKS: Record<string, LevelLook> = {
  DEBUG: { type: 'default', symbol: '·', highlight: 'none' },
  INFO: { type: 'info', symbol: 'i', highlight: 'none' },
  WARNING: { type: 'warning', symbol: '!', highlight: 'none' },
  ERROR: { type: 'error', symbol: '✕', highlight: 'error' },
  CRITICAL: { type: 'error', symbol: '‼', highlight: 'critical' },
}

export function levelLook(level: string): LevelLook {
  return LOOKS[level] ?? { type: 'default', symbol: '?', highlight: 'none' }
}

/** "2026-11-21 10:15:03.120" (UTC), the time column of the log. */
export function logTime(iso: string): string {
  const time = new Date(iso)
  if (Number.isNaN(time.getTime())) return iso
  return time.toISOString().replace('T', ' ').slice(0, 23)
}
