"""Apply or roll back the schema migrations in `migrations/` (one command: `make migrate`).

python -m server.persistence.migrate            # apply every pending migration
python -m server.persistence.migrate --down     # roll every migration back
"""

from __future__ import annotations

import argparse
import logging

from peewee_migrate import Router

from server.config import ROOT, load_config
from server.persistence.db import init_db

MIGRATIONS_DIR = ROOT / "migrations"


def router_for(database) -> Router:
    return Router(database, migrate_dir=str(MIGRATIONS_DIR), ignore=["basemodel"])


def upgrade(database) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    router = router_for(database)
    pending = list(router.diff)
    router.run()
    return pending


def downgrade_all(database) -> list[str]:
    """Roll back every applied migration, newest first; returns the names rolled back."""
    router = router_for(database)
    done = list(router.done)
    for _ in done:
        router.rollback()
    return list(reversed(done))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", action="store_true", help="roll back every migration")
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(message)s")
    database = init_db(load_config().DATABASE_URL)
    names = downgrade_all(database) if args.down else upgrade(database)
    verb = "rolled back" if args.down else "applied"
    print(f"migrations {verb}: {', '.join(names) or 'none (already up to date)'}")


if __name__ == "__main__":
    main()
