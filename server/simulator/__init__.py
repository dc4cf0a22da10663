"""The local exchange simulator (SPEC §11). Placeholder until the exchange issue lands."""
