"""Pure domain logic: Decimal in, decisions out. No clock, database, Redis or network here."""
