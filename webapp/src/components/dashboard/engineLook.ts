import type { EngineState } from '@/types/dashboard'

/** How an engine state looks: an alert type plus a symbol and a title, never colour alone. */
export interface EngineLook {
  type: 'success' | 'info' | 'warning' | 'error'
  symbol: string
  title: string
}

const LOOKS: Record<EngineState, EngineLook> = {
  running: { type: 'success', symbol: '▶', title: 'Engine running' },
  paused: { type: 'warning', symbol: '❚❚', title: 'Engine paused' },
  degraded: { type: 'warning', symbol: '!', title: 'Engine degraded' },
  error: { type: 'error', symbol: '✕', title: 'Engine stopped: error' },
}

export function engineLook(state: string | null | undefined): EngineLook {
  return LOOKS[state as EngineState] ?? { type: 'info', symbol: '?', title: `Engine ${state ?? 'unknown'}` }
}

/** The pool gauge's colour band: free room, nearly full (≥ 80 %), full. */
export function poolTone(used: number, max: number): 'success' | 'warning' | 'error' {
  if (max <= 0 || used >= max) return 'error'
  return used / max >= 0.8 ? 'warning' : 'success'
}

/** Share of the pool in use, 0–100, whole percent (the gauge's needle). */
export function poolPercent(used: number, max: number): number {
  if (max <= 0) return used > 0 ? 100 : 0
  return Math.min(100, Math.round((used / max) * 100))
}
