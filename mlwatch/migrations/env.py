"""Alembic environment: runs on the connection mlwatch hands over (see mlwatch.db)."""

from alembic import context

from incidents.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through mlwatch.db.migrate(), which passes a connection")

# Our own version table, so the store can share a database with other Alembic users
# (for example the Prefect server's own tables).
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  version_table="mlwatch_alembic_version")
with context.begin_transaction():
    context.run_migrations()
