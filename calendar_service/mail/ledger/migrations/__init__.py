"""Alembic migrations of the ledger, shipped inside the package (no alembic.ini: ``upgrade.py``
configures Alembic in code and hands ``env.py`` an open connection).

Rules for a new revision (they keep rolling upgrades safe):

- **Additive only.** Add tables, nullable columns, columns with a server default, and indexes.
  Never drop, rename or retype a column or table, and never add a NOT NULL column without a
  server default: a host still on the previous release keeps reading and writing the ledger
  while the others are upgraded. Removing something takes two releases: stop using it in one,
  drop it in a later one (and note that as a breaking change in CHANGELOG.md).
- **One file per revision** in ``versions/``, named ``NNNN_what_it_does.py`` where ``NNNN`` is
  its ``revision`` id and ``down_revision`` is the newest one before it: the history is a line.
  Someone landed a revision first? Renumber yours and re-point its ``down_revision``.
- **Works on SQLite and PostgreSQL.** ALTERs on SQLite go through batch mode
  (``with op.batch_alter_table("reminder_ledger") as batch: batch.add_column(...)``).
- **schema.py stays the truth.** Change the table there too; a test checks that upgrading an
  empty database gives exactly the tables of schema.py.
"""
