import type { Role } from '@/types/auth'

/** Where a trader lands after signing in. */
export const HOME_AFTER_LOGIN = '/'

/** One page of the console, as the side navigation lists it. */
export interface ConsolePage {
  /** Route name and the `nav-<key>` test id. */
  key: string
  path: string
  title: string
  /** What the page shows, in one line (kept in the route's meta). */
  description: string
  /** Least role that sees the page (defaults to every signed-in user). */
  role?: Role
}

export const CONSOLE_PAGES: readonly ConsolePage[] = [
  {
    key: 'dashboard',
    path: '/',
    title: 'Dashboard',
    description:
      'Active groups, pool usage, queued signals, realised and unrealised PnL, the last webhook, ' +
      'engine and risk-engine status, and alerts at a glance.',
  },
  {
    key: 'positions',
    path: '/positions',
    title: 'Positions',
    description: 'Position groups with their pyramids, DCA legs, average entry and PnL, live.',
  },
  {
    key: 'queue',
    path: '/queue',
    title: 'Queue',
    description:
      'Entry signals waiting for a pool slot in priority order — pyramid continuation, current ' +
      'loss %, replacements, time in queue, expected profit — with promote, force add and remove.',
  },
  {
    key: 'risk',
    path: '/risk',
    title: 'Risk',
    description:
      'Per open group: loss %, risk timer and eligibility; the projected plan (which loser closes, ' +
      'which winners pay for it); Run Now, block and skip-once controls; the history of risk actions.',
  },
  {
    key: 'logs',
    path: '/logs',
    title: 'Logs',
    description:
      'The system log by level and category with search, symbol and time filters and CSV/JSON ' +
      'export, and the webhook log with each signal’s outcome and a replay button.',
  },
  {
    key: 'performance',
    path: '/performance',
    title: 'Performance',
    description:
      'Realised PnL by day, week and month, win rate, profit factor, Sharpe, max drawdown, the ' +
      'equity curve, the PnL distribution and breakdowns by symbol and timeframe.',
  },
  {
    key: 'settings',
    path: '/settings',
    title: 'Settings',
    description:
      'Exchange accounts and API keys, precision, pool and queue, capital and pyramids, the DCA ' +
      'grid with a live preview, take-profit mode, risk parameters and signal checks — validated, ' +
      'versioned, with export/import and Apply & Restart Engine.',
  },
  {
    key: 'users',
    path: '/users',
    title: 'Users',
    description:
      'Every user with their role: invite or create users, change roles, deactivate accounts, ' +
      'and read the audit log.',
    role: 'admin',
  },
]
