"""Durable state: Peewee models behind one database proxy (PostgreSQL or SQLite)."""
