import { h, type VNodeChild } from 'vue'
import { NTag, type DataTableColumns } from 'naive-ui'
import ClosePositionButton from './ClosePositionButton.vue'
import PositionDetail from './PositionDetail.vue'
import { SIDE_TAG, STATUS_TAG, statusLabel, tpModeLabel } from './statusLook'
import type { PositionGroup } from '@/types/positions'
import {
  formatDateTime,
  formatPnlPercent,
  formatPnlUsd,
  formatQuantity,
  formatRelativeTime,
  formatTimeframe,
  formatUsd,
  type SignedText,
} from '@/utils/format'

function signed(value: SignedText): VNodeChild {
  return h('span', { class: `tone-${value.tone}` }, value.text)
}

function numeric(text: string): VNodeChild {
  return h('span', { class: 'num' }, text)
}

export interface ColumnOptions {
  /** The signed-in user may close groups (trader and above): adds the actions column. */
  canClose: boolean
}

/** The positions table's columns; `now` ages the relative times. Rows expand to their legs. */
export function positionColumns(now: Date, options: ColumnOptions = { canClose: false }): DataTableColumns<PositionGroup> {
  const columns: DataTableColumns<PositionGroup> = [
    {
      type: 'expand',
      fixed: 'left',
      width: 36,
      renderExpand: (row) => h(PositionDetail, { group: row, now }),
    },
    {
      key: 'symbol',
      title: 'Symbol',
      fixed: 'left',
      width: 140,
      render: (row) =>
        h('div', { class: 'symbol' }, [
          h('strong', { 'data-testid': 'position-symbol' }, row.symbol),
          h('small', { class: 'exchange' }, row.exchange),
        ]),
    },
    {
      key: 'side',
      title: 'Side',
      width: 80,
      render: (row) => h(NTag, { size: 'small', type: SIDE_TAG[row.side], bordered: false }, () => row.side),
    },
    { key: 'timeframe', title: 'TF', width: 60, render: (row) => formatTimeframe(row.timeframe) },
    {
      key: 'status',
      title: 'Status',
      width: 130,
      render: (row) =>
        h(
          NTag,
          { size: 'small', round: true, type: STATUS_TAG[row.status], 'data-testid': 'position-status' },
          () => statusLabel(row.status),
        ),
    },
    {
      key: 'pyramids',
      title: 'Pyramids',
      width: 90,
      align: 'right',
      render: (row) => numeric(`${row.pyramid_count}/${row.max_pyramids}`),
    },
    {
      key: 'legs',
      title: 'DCA legs',
      width: 90,
      align: 'right',
      render: (row) => numeric(`${row.filled_dca_legs}/${row.total_dca_legs}`),
    },
    {
      key: 'avg_entry',
      title: 'Avg entry',
      width: 130,
      align: 'right',
      render: (row) => numeric(formatQuantity(row.weighted_avg_entry)),
    },
    {
      key: 'filled_qty',
      title: 'Filled qty',
      width: 130,
      align: 'right',
      render: (row) => numeric(formatQuantity(row.total_filled_quantity)),
    },
    {
      key: 'invested',
      title: 'Invested USD',
      width: 130,
      align: 'right',
      render: (row) => numeric(formatUsd(row.total_invested_usd)),
    },
    {
      key: 'unrealized',
      title: 'Unrealised PnL',
      width: 150,
      align: 'right',
      render: (row) =>
        h('div', { class: 'num pnl' }, [
          signed(formatPnlUsd(row.unrealized_pnl_usd)),
          h('small', {}, [signed(formatPnlPercent(row.unrealized_pnl_percent))]),
        ]),
    },
    {
      key: 'realized',
      title: 'Realised PnL',
      width: 130,
      align: 'right',
      render: (row) => h('span', { class: 'num' }, [signed(formatPnlUsd(row.realized_pnl_usd))]),
    },
    {
      key: 'tp_mode',
      title: 'TP mode',
      width: 100,
      render: (row) => h('span', { 'data-testid': 'position-tp-mode' }, tpModeLabel(row.tp_mode)),
    },
    {
      key: 'created',
      title: 'Opened',
      width: 110,
      render: (row) =>
        h('time', { datetime: row.created_at, title: formatDateTime(row.created_at) }, formatRelativeTime(row.created_at, now)),
    },
  ]
  if (options.canClose) {
    columns.push({
      key: 'actions',
      title: '',
      fixed: 'right',
      width: 90,
      align: 'center',
      render: (row) => h(ClosePositionButton, { group: row }),
    })
  }
  return columns
}
