"""Baseline: the ledger as calendar-service 0.1.0 made it (before migrations existed).

Each table is created only when absent, so a ledger made by 0.1.0 (or by an earlier build that
had fewer tables) is brought to this revision and stamped without touching its rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
additive = True  # see migrations/__init__.py


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "reminder_ledger" not in present:
        op.create_table(
            "reminder_ledger",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("rkey", sa.String(400), nullable=False, unique=True),
            sa.Column("office_id", sa.String(100), nullable=False),
            sa.Column("day_id", sa.String(100), nullable=False),
            sa.Column("occurrence_date", sa.Date, nullable=False),
            sa.Column("lead", sa.Integer, nullable=False),
            sa.Column("status", sa.String(20), nullable=False, index=True),
            sa.Column("scheduled_at", sa.DateTime),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("claim_token", sa.String(64)),
            sa.Column("claimed_at", sa.DateTime),
            sa.Column("message_id", sa.String(200)),
            sa.Column("reply", sa.Text),
            sa.Column("refused", sa.Text),
            sa.Column("error", sa.Text),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("sent_at", sa.DateTime),
            sa.UniqueConstraint("office_id", "day_id", "occurrence_date", "lead",
                                name="uq_reminder_ledger_key"),
        )
    if "reminder_runs" not in present:
        op.create_table(
            "reminder_runs",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("started_at", sa.DateTime, nullable=False),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("as_of", sa.DateTime),
            sa.Column("host", sa.String(200)),
            sa.Column("pid", sa.Integer),
            sa.Column("sent", sa.Integer, nullable=False),
            sa.Column("failed", sa.Integer, nullable=False),
            sa.Column("pending", sa.Integer, nullable=False),
            sa.Column("messages", sa.Integer, nullable=False),
            sa.Column("ok", sa.Boolean),
        )
    if "unsubscriptions" not in present:
        op.create_table(
            "unsubscriptions",
            sa.Column("office_id", sa.String(100), primary_key=True),
            sa.Column("unsubscribed_at", sa.DateTime, nullable=False),
            sa.Column("via", sa.String(20), nullable=False),
        )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: restore a backup instead")
