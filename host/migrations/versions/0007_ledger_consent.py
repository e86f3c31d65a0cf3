"""the consent a subscriber contact's destination accepted, kept on its ledger row

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:50:00

Rows of subscriber contacts synced before this was kept get ``legacy``: their consent was sent
with their first accepted write (the rule before this revision), so it is not sent again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("consent", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE ledger SET consent = 'legacy' WHERE kind = 'subscriber_contact' AND state = 'synced'"
    )


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("consent")
