"""Open the mlwatch store: create the SQLite folder, check the connection, apply migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from incidents.store import Store, make_engine
from mlwatch.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def redact(url: str) -> str:
    """A database URL safe for logs and messages: the password is replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration up to head (idempotent)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_store(url: str, *, migrate_schema: bool = True, durable: bool = True) -> Store:
    """Connect to the store at ``url`` and bring its schema up to date."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"store URL {url!r} is not a database URL; use e.g. sqlite:///.mlwatch/mlwatch.db "
            "or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = make_engine(url, durable=durable)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if migrate_schema:
            migrate(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(
            f"cannot open the mlwatch store at {redact(url)}: {reason}. "
            "Check that the database is running and the URL (store: in the config, or "
            "MLWATCH_STORE_URL) is right."
        ) from None
    except ModuleNotFoundError as exc:
        raise StoreError(f"the driver for {redact(url)} is not installed: {exc.name}") from None
    return Store(engine)
