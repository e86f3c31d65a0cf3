"""the fast lane's own lease, a change counter on contact profiles, an index of waiting events

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


UNPROCESSED = sa.text("processed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("fast_lane_owner", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("fast_lane_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("contact_profiles") as batch:
        batch.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_index(
        "ix_webhook_inbox_unprocessed", "webhook_inbox", ["connection_id"],
        sqlite_where=UNPROCESSED, postgresql_where=UNPROCESSED,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_inbox_unprocessed", table_name="webhook_inbox")
    with op.batch_alter_table("contact_profiles") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("fast_lane_expires_at")
        batch.drop_column("fast_lane_owner")
