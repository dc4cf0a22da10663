/** TradingView alert messages (docs/tradingview.md), ready to paste into an alert's Message box. */

export const SECRET_PLACEHOLDER = 'YOUR_WEBHOOK_SECRET'

export const TRADINGVIEW_ADDRESSES = ['52.89.214.238', '34.212.75.30', '54.218.53.128', '52.32.178.7'] as const

const TV_FIELDS = `    "exchange": "{{exchange}}",
    "symbol": "{{ticker}}",
    "timeframe": "{{interval}}",`

export interface AlertTemplate {
  key: string
  label: string
  body: (secret: string) => string
}

export const ALERT_TEMPLATES: AlertTemplate[] = [
  {
    key: 'entry-long',
    label: 'Entry, long (indicator alert)',
    body: (secret) => `{
  "secret": "${secret}",
  "tv": {
${TV_FIELDS}
    "entry_price": "{{close}}",
    "time": "{{timenow}}"
  },
  "execution_intent": {"type": "entry", "side": "long", "strategy": "grid"}
}`,
  },
  {
    key: 'exit-long',
    label: 'Exit, long (indicator alert)',
    body: (secret) => `{
  "secret": "${secret}",
  "tv": {
${TV_FIELDS}
    "entry_price": "{{close}}",
    "time": "{{timenow}}"
  },
  "execution_intent": {"type": "exit", "side": "long"}
}`,
  },
  {
    key: 'strategy',
    label: 'Strategy alert (entries and exits)',
    body: (secret) => `{
  "secret": "${secret}",
  "tv": {
${TV_FIELDS}
    "action": "{{strategy.order.action}}",
    "market_position": "{{strategy.market_position}}",
    "prev_market_position": "{{strategy.prev_market_position}}",
    "entry_price": "{{close}}",
    "order_id": "{{strategy.order.id}}",
    "time": "{{timenow}}"
  },
  "execution_intent": {"type": "signal", "strategy": "grid"}
}`,
  },
]
