"""One benchmark harness (`make bench`) and one chaos run (`make chaos`) for the whole engine.

`launcher` starts the real stack (tests/stack.py) against a fresh PostgreSQL database and a
Redis database of its own; `scenarios` holds the benchmark scenarios (built on the per-issue
bench scripts in tests/perf/); `harness` and `chaos` are the two entry points; `report` writes
the JSON and the markdown tables between marker comments.
"""
