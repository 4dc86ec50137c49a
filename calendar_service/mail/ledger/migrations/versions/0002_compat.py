"""Record which releases can still use the ledger, so a rolling upgrade never stops the old hosts.

``ledger_compat`` holds one row, written by the upgrader after every upgrade: the revision it
describes and ``readable_from``, the oldest revision whose release can still read and write the
ledger (the first revision of the unbroken run of additive ones up to it). A release that finds
a newer revision than it knows goes on working when that row names its revision and a
``readable_from`` it knows; otherwise it refuses the ledger.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
additive = True  # see migrations/__init__.py


def upgrade() -> None:
    op.create_table(
        "ledger_compat",
        sa.Column("revision", sa.String(32), primary_key=True),
        sa.Column("readable_from", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_compat")
