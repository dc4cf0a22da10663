import type { PositionGroup } from '@/types/positions'

/** A position group as the server sends it; override what a test cares about. */
export function makeGroup(overrides: Partial<PositionGroup> = {}): PositionGroup {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    account_id: '00000000-0000-4000-8000-0000000000aa',
    exchange: 'binance',
    symbol: 'BTCUSDT',
    timeframe: '60',
    side: 'long',
    status: 'active',
    pyramid_count: 1,
    max_pyramids: 5,
    filled_dca_legs: 2,
    total_dca_legs: 5,
    weighted_avg_entry: '64250.50000000',
    total_filled_quantity: '0.00310000',
    total_invested_usd: '199.1765500',
    unrealized_pnl_usd: '-1.2345',
    unrealized_pnl_percent: '-0.62',
    realized_pnl_usd: null,
    tp_mode: 'per_leg',
    created_at: '2026-11-21T10:15:00Z',
    closed_at: null,
    ...overrides,
  }
}
