"""The engine's one door to exchanges. Only this package imports ccxt (tests/unit/test_layering)."""
