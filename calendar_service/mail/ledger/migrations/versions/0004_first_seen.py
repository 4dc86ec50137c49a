"""The ledger records when it started and when each office, lead and day first appeared, so a
fresh install sends nothing scheduled before it existed (see ``mail/reminders.py``), and which
local day each message went on (``sent_as_of``: one message per office per local day).

A ledger that was already sending is not a new start: its ``started_at`` is its earliest
reminder or run, and the offices, leads and days the first run after this upgrade finds are
recorded as seen since then, so reminders missed during an outage are still caught up.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
additive = True  # new tables and one nullable column: the previous release ignores them


def upgrade() -> None:
    info = op.create_table(
        "ledger_info",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
    )
    op.create_table(
        "offices_seen",
        sa.Column("office_id", sa.String(100), primary_key=True),
        sa.Column("first_seen", sa.DateTime, nullable=False),
    )
    op.create_table(
        "leads_seen",
        sa.Column("office_id", sa.String(100), primary_key=True),
        sa.Column("lead", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("first_seen", sa.DateTime, nullable=False),
    )
    op.create_table(
        "days_seen",
        sa.Column("day_id", sa.String(100), primary_key=True),
        sa.Column("first_seen", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("reminder_ledger") as batch:
        batch.add_column(sa.Column("sent_as_of", sa.DateTime))
    # Naive UTC, as UTCDateTime stores it.
    meta = sa.MetaData()
    rows = sa.Table("reminder_ledger", meta, sa.Column("scheduled_at", sa.DateTime),
                    sa.Column("created_at", sa.DateTime))
    runs = sa.Table("reminder_runs", meta, sa.Column("as_of", sa.DateTime),
                    sa.Column("started_at", sa.DateTime))
    conn = op.get_bind()
    found = [conn.execute(sa.select(sa.func.min(c))).scalar()
             for c in (rows.c.scheduled_at, rows.c.created_at, runs.c.as_of, runs.c.started_at)]
    earliest = min((f for f in found if f is not None), default=None)
    if isinstance(earliest, str):  # SQLite without type information
        earliest = datetime.fromisoformat(earliest)
    op.bulk_insert(info, [{"id": 1, "created_at": datetime.now(UTC).replace(tzinfo=None),
                           "started_at": earliest}])


def downgrade() -> None:
    with op.batch_alter_table("reminder_ledger") as batch:
        batch.drop_column("sent_as_of")
    for name in ("days_seen", "leads_seen", "offices_seen", "ledger_info"):
        op.drop_table(name)
