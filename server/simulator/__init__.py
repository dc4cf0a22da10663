"""The local exchange simulator (SPEC §11): real Binance REST dialects over an in-memory core.

Layout: `matching` (pure matching, reusable by the paper exchange), `markets` (real rules from
`data/`), `ledgers` (spot wallets, linear-futures margin and positions), `core` (venues, keys,
order log, the `Dialect` plug-in base), `binance*` (spot and USDⓈ-M dialects), `control`
(`/__sim/*`), `faults`, `replay` + `candles` (real OHLCV), `http` (the server).
Run with `python -m server.simulator`.
"""
