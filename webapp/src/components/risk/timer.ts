import type { RiskGroup } from '@/types/risk'
import { formatDateTime } from '@/utils/format'

/** A timer no evaluation has stored yet does not count down: it starts at the next evaluation. */
export function timerText(
  group: Pick<RiskGroup, 'timer_pending' | 'timer_expires_at'>,
  nextRunAt: string | null | undefined,
  now: Date,
): string {
  if (group.timer_pending) {
    return nextRunAt ? `starts at the next evaluation (${formatDateTime(nextRunAt)})` : 'starts at the next evaluation'
  }
  return timerRemaining(group.timer_expires_at, now)
}

/** A stored risk timer as the panel shows it, counting down against `now`. */
export function timerRemaining(expiresAt: string | null, now: Date): string {
  if (!expiresAt) return 'not started'
  const left = Math.floor((Date.parse(expiresAt) - now.getTime()) / 1000)
  if (Number.isNaN(left)) return 'not started'
  if (left <= 0) return 'expired'
  const hours = Math.floor(left / 3600)
  const minutes = Math.floor((left % 3600) / 60)
  const seconds = left % 60
  const mmss = `${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}`
  return hours > 0 ? `${hours}:${mmss}` : mmss
}

/** The trader's words for why a group is not an eligible loser. */
export const REASON_WORDS: Record<string, string> = {
  timer_not_started: 'timer not started',
  timer_running: 'timer running',
  above_loss_threshold: 'above loss threshold',
  pyramids_not_full: 'pyramids not full',
  age_filter: 'too young',
  blocked: 'blocked',
  skip_once: 'skip once',
  nothing_held: 'nothing held',
  no_eligible_loser: 'no eligible loser',
  no_winners: 'no winning position to offset it',
  insufficient_winners: 'winners do not cover the loss',
  disabled: 'risk engine disabled',
}

export function reasonWords(reason: string | null | undefined): string {
  if (!reason) return ''
  return REASON_WORDS[reason] ?? reason.replace(/_/g, ' ')
}
