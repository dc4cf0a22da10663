"""Web entry point for gunicorn's gevent worker: `gunicorn -k gevent server.wsgi:app`.

gunicorn's gevent worker has already monkey-patched the standard library when this module is
imported; psycopg2 is a C extension, so it gets gevent's wait callback from psycogreen here.
Only this module does it: code that RQ jobs import must never monkey-patch (STACK.md).
"""

from psycogreen.gevent import patch_psycopg

patch_psycopg()

from server import create_app  # noqa: E402 - after the patch, on purpose
from server.heap import freeze_startup_heap  # noqa: E402

app = create_app()
freeze_startup_heap()  # full GC passes skip the start-up heap (server/heap.py)
