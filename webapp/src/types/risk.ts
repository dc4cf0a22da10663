/** The risk engine's panel and history (API.md `GET /api/risk`, `GET /api/risk/actions`). */

/** Why a group is not an eligible loser (server/domain/risk.py). */
export type RiskReason =
  | 'timer_not_started'
  | 'timer_running'
  | 'above_loss_threshold'
  | 'pyramids_not_full'
  | 'age_filter'
  | 'blocked'
  | 'skip_once'
  | 'nothing_held'

export interface RiskGroup {
  group_id: string
  symbol: string
  timeframe: number | string
  side: string
  status: string
  pyramid_count: number
  max_pyramids: number
  loss_percent: string
  loss_usd: string
  timer_started_at: string | null
  timer_expires_at: string | null
  timer_expired: boolean
  pyramids_reached: boolean
  age_filter_passed: boolean
  eligible: boolean
  blocked: boolean
  skip_once: boolean
  reasons: RiskReason[]
  is_winner_candidate: boolean
  /** The start condition holds but no evaluation has stored the timer yet: it starts at the next
   *  one (`next_run_at`); `timer_started_at` / `timer_expires_at` are then what they would be if
   *  it started now, and move with every read. */
  timer_pending?: boolean
}

export interface RiskWinner {
  group_id: string
  close_quantity: string
  close_usd: string
  covered_usd?: string
  profit_usd?: string
  price?: string
  /** Set on an executed action: what happened to the offset order. */
  status?: string
  filled_quantity?: string
  realised_usd?: string
}

export interface RiskPlan {
  loser: string | null
  required_usd: string | null
  winners: RiskWinner[]
  covered_usd: string | null
  will_act: boolean
  reason: string | null
}

export interface RiskAction {
  id: string
  created_at: string
  loser: string | null
  trigger: string
  triggered_by: string | null
  outcome: string
  reason: string | null
  required_usd: string | null
  covered_usd: string | null
  plan: RiskPlan & { net_realised_usd?: string; loser_realised_usd?: string }
}

export interface RiskPanel {
  enabled: boolean
  evaluated_at: string
  groups: RiskGroup[]
  plan: RiskPlan
  last_run_at: string | null
  next_run_at: string | null
  last_action: RiskAction | null
}

/** `risk.updated`: the panel moved (docs/api.md). `cause`: the run's trigger (`scheduled`,
 *  `manual`) or the control (`block`, `unblock`, `skip`); `outcome`: the run's, null for a control. */
export interface RiskNotice {
  user_id: string
  cause: string
  outcome: string | null
  enabled: boolean
  last_run_at: string | null
  next_run_at: string | null
}

export interface RiskRunResult {
  outcome: string
  reason: string | null
  action: RiskAction | null
  plan: RiskPlan
}

export type RiskControl = 'block' | 'unblock' | 'skip'

export interface RiskControlResult {
  group_id: string
  blocked: boolean
  skip_once: boolean
}
