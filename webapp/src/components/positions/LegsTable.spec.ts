import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { NTag } from 'naive-ui'
import LegsTable from './LegsTable.vue'
import { fillProgress } from './legs'
import { makeLeg, makePyramid } from '@/testing/groups'

function mountLegs(...legs: ReturnType<typeof makeLeg>[]) {
  return mount(LegsTable, { props: { pyramid: makePyramid({ index: 2, legs }) } })
}

describe('LegsTable', () => {
  it('shows progress = filled / quantity from the decimal strings', () => {
    const wrapper = mountLegs(
      makeLeg({ leg: 0, quantity: '0.00062', filled_quantity: '0.00031', status: 'partially_filled' }),
      makeLeg({ leg: 1, quantity: '0.00062', filled_quantity: '0.00062', status: 'filled' }),
      makeLeg({ leg: 2, quantity: '0.00062', filled_quantity: '0', status: 'open' }),
    )

    const progress = wrapper.findAll('[data-testid="leg-progress"]')
    expect(progress.map((p) => p.attributes('data-percent'))).toEqual(['50', '100', '0'])
    expect(progress[0]?.text()).toContain('0.00031')
    expect(progress[0]?.text()).toContain('50%')
    expect(progress[1]?.text()).toContain('100%')
  })

  it('puts the leg, its pyramid and its status on each row', () => {
    const wrapper = mountLegs(
      makeLeg({ leg: 0, status: 'filled', client_order_id: 'a' }),
      makeLeg({ leg: 1, status: 'cancelled', client_order_id: 'b' }),
    )

    const rows = wrapper.findAll('[data-testid="leg-row"]')
    expect(rows.map((r) => [r.attributes('data-leg'), r.attributes('data-pyramid'), r.attributes('data-status')])).toEqual([
      ['0', '2', 'filled'],
      ['1', '2', 'cancelled'],
    ])
    expect(rows[1]?.text()).toContain('cancelled')
  })

  it('formats prices, percentages and fees from decimal strings without losing digits', () => {
    const wrapper = mountLegs(
      makeLeg({
        leg: 3,
        price: '0.00001234',
        quantity: '1234567',
        weight_percent: '12.50',
        gap_percent: '-1.5',
        avg_fill_price: '0.00001233',
        tp_price: '12345.678900',
        tp_percent: '2',
        tp_hit: true,
        fee: '0.0001234',
        fee_currency: 'USDT',
        status: 'filled',
      }),
    )

    const text = wrapper.get('[data-testid="leg-row"]').text()
    expect(text).toContain('0.00001234')
    expect(text).toContain('1,234,567')
    expect(text).toContain('12.5%')
    expect(text).toContain('\u22121.5%')
    expect(text).toContain('12,345.6789')
    expect(text).toContain('0.0001234 USDT')
    expect(wrapper.find('[data-testid="leg-tp-hit"]').exists()).toBe(true)
  })

  it('colours the status tag by order status', () => {
    const wrapper = mountLegs(
      makeLeg({ leg: 0, status: 'filled', client_order_id: 'a' }),
      makeLeg({ leg: 1, status: 'failed', client_order_id: 'b' }),
      makeLeg({ leg: 2, status: 'partially_filled', client_order_id: 'c' }),
    )

    const tags = wrapper.findAll('[data-testid="leg-row"]').map((row) => row.findComponent(NTag).props('type'))
    // The TP "hit" badge is absent, so the first tag of each row is its status.
    expect(tags).toEqual(['success', 'error', 'warning'])
  })

  it('shows the side and type only when the engine sends them', () => {
    expect(mountLegs(makeLeg()).text()).not.toContain('Type')
    const wrapper = mountLegs(makeLeg({ side: 'buy', order_type: 'market', price: null }))
    expect(wrapper.text()).toContain('buy · market')
    expect(wrapper.get('[data-testid="leg-row"]').text()).toContain('market')
  })
})

describe('fillProgress', () => {
  it('is exact on decimal strings and truncates toward zero', () => {
    expect(fillProgress('0.00031', '0.00062')).toEqual({ percent: 50, label: '50%' })
    expect(fillProgress('0.1', '0.3')).toEqual({ percent: 33, label: '33%' })
    expect(fillProgress('0.99999999', '1')).toEqual({ percent: 99, label: '99%' })
    expect(fillProgress('1E-8', '1')).toEqual({ percent: 0, label: '<1%' })
    expect(fillProgress(null, '5')).toEqual({ percent: 0, label: '0%' })
    expect(fillProgress('6', '5')).toEqual({ percent: 100, label: '100%' })
  })

  it('has no progress without a quantity', () => {
    expect(fillProgress('1', null)).toBeNull()
    expect(fillProgress('1', '0')).toBeNull()
    expect(fillProgress('1', 'n/a')).toBeNull()
  })
})
