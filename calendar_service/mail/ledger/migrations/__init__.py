"""Alembic migrations of the ledger, shipped inside the package (no alembic.ini: ``upgrade.py``
configures Alembic in code and hands ``env.py`` an open connection).

Rules for a new revision (they keep rolling upgrades safe):

- **Additive only.** Add tables, nullable columns, columns with a server default, and indexes.
  Never drop, rename or retype a column or table, and never add a NOT NULL column without a
  server default: a host still on the previous release keeps reading and writing the ledger
  while the others are upgraded. Removing something takes two releases: stop using it in one,
  drop it in a later one (and note that as a breaking change in CHANGELOG.md).
- **Say so.** Every revision sets ``additive = True`` (or ``False`` for a breaking one). After an
  upgrade the ledger records, in ``ledger_compat``, the oldest revision whose release can still
  use it: the start of the unbroken run of additive revisions up to the head. An older release
  that finds a newer revision keeps working when that record names a revision it knows, and
  refuses the ledger otherwise (exit 2, "upgraded by a newer calendar-service").
- **One file per revision** in ``versions/``, named ``NNNN_what_it_does.py`` where ``NNNN`` is
  its ``revision`` id and ``down_revision`` is the newest one before it: the history is a line.
  Someone landed a revision first? Renumber yours and re-point its ``down_revision``.
- **Works on SQLite and PostgreSQL.** ALTERs on SQLite go through batch mode
  (``with op.batch_alter_table("reminder_ledger") as batch: batch.add_column(...)``).
- **schema.py stays the truth.** Change the table there too; a test checks that upgrading an
  empty database gives exactly the tables of schema.py.
"""
