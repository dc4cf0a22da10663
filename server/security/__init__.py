"""Secrets handling: the key vault, password hashing, log redaction."""
