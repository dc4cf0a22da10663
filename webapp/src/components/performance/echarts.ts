/** The parts of ECharts the performance page uses, registered once (tree-shaken build). */
import { use } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'
import { BarChart, GaugeChart } from 'echarts/charts'
import { GridComponent } from 'echarts/components'
import type { ComposeOption } from 'echarts/core'
import type { BarSeriesOption, GaugeSeriesOption } from 'echarts/charts'
import type { GridComponentOption } from 'echarts/components'

// No tooltip component: it alone would push the chunk past 500 kB; counts are bar labels.
use([CanvasRenderer, BarChart, GaugeChart, GridComponent])

export type ChartOption = ComposeOption<BarSeriesOption | GaugeSeriesOption | GridComponentOption>
