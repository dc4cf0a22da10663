import type { DcaLeg, OrderUpdate, PositionDetail, PositionGroup, Pyramid } from '@/types/positions'

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

/** One DCA leg as `GET /api/positions/<id>` lists it. */
export function makeLeg(overrides: Partial<DcaLeg> = {}): DcaLeg {
  const leg = overrides.leg ?? 0
  return {
    leg,
    status: 'open',
    price: '64250.50',
    quantity: '0.00062',
    filled_quantity: '0',
    avg_fill_price: null,
    weight_percent: '20',
    gap_percent: '0',
    tp_percent: '1.5',
    tp_price: null,
    tp_hit: false,
    client_order_id: `g1-p0-entry-${leg}`,
    exchange_order_id: null,
    fee: '0',
    ...overrides,
  }
}

export function makePyramid(overrides: Partial<Pyramid> = {}): Pyramid {
  return {
    index: 0,
    entry_price: '64250.50',
    capital_usd: '200',
    status: 'open',
    created_at: '2026-11-21T10:15:00Z',
    legs: [makeLeg({ leg: 0 }), makeLeg({ leg: 1, price: '63608.00', gap_percent: '-1' })],
    ...overrides,
  }
}

/** A group's detail: the group, its pyramids and its events. */
export function makeDetail(overrides: Partial<PositionDetail> = {}): PositionDetail {
  return {
    ...makeGroup(),
    pyramids: [makePyramid()],
    events: [],
    ...overrides,
  }
}

/** An `order.updated` payload for one entry leg. */
export function makeOrderUpdate(overrides: Partial<OrderUpdate> = {}): OrderUpdate {
  return {
    ...makeLeg(),
    group_id: '00000000-0000-4000-8000-000000000001',
    pyramid_index: 0,
    purpose: 'entry',
    ...overrides,
  }
}
