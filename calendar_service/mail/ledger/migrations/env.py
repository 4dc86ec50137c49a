"""Alembic's environment for the ledger: always run from ``upgrade.py`` with an open connection
inside the caller's transaction (so the upgrade, its lock and its checks are one unit)."""

from alembic import context

from calendar_service.mail.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("ledger migrations run through `calendar-service migrate`, not alembic's CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
