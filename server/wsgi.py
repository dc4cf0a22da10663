"""Web entry point for gunicorn's gevent worker: `gunicorn -k gevent server.wsgi:app`.

gunicorn's gevent worker has already monkey-patched the standard library when this module is
imported; psycopg2 is a C extension, so it gets gevent's wait callback from psycogreen here.
Only this module does it: code that RQ jobs import must never monkey-patch (STACK.md).
"""

from psycogreen.gevent import patch_psycopg

patch_psycopg()

from server import create_app  # noqa: E402 - after the patch, on purpose

app = create_app()
