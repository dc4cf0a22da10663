"""Job functions, enqueued by dotted path. Each is thin: it calls a service."""
