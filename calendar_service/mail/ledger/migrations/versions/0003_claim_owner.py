"""Claims say who holds them: the host and process of the run (see ``ledger/owners.py``).

With them (and the lock each run holds while it sends), a claim of a dead run is taken at once
and a live run's claim never; claims from before this revision fall back to CLAIM_TIMEOUT.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
additive = True  # two nullable columns: the previous release ignores them


def upgrade() -> None:
    with op.batch_alter_table("reminder_ledger") as batch:
        batch.add_column(sa.Column("claim_host", sa.String(200)))
        batch.add_column(sa.Column("claim_pid", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("reminder_ledger") as batch:
        batch.drop_column("claim_pid")
        batch.drop_column("claim_host")
