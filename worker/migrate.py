"""Run alembic programmatically (for the embedded database, the demo and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a socket path or password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    command.check(alembic_config(database_url))


def fresh_database(admin_url: str, name: str) -> str:
    """Drop and create ``name`` under the admin URL, migrated to head; its SQLAlchemy URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    """Drop ``name`` under the admin URL (a scratch database made by :func:`fresh_database`)."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_check(admin_url: str, name: str | None = None) -> None:
    """Upgrade an empty database to head and check that models and migrations agree. The
    scratch database is named per process (two checks at once on one server must not drop
    each other's) and dropped afterwards."""
    import os

    name = name or f"pidsync_migration_check_{os.getpid()}"
    try:
        check(fresh_database(admin_url, name))
    finally:
        drop_database(admin_url, name)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--fresh-check":
        fresh_check(sys.argv[2])
        print("migrations: upgrade head and check passed", file=sys.stderr)  # noqa: T201
    else:
        sys.exit("usage: python -m worker.migrate --fresh-check ADMIN_DATABASE_URL")
