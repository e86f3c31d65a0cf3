"""what each order adds to its email's lifetime order fields, and the fields on the profile

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:50:00

The table starts empty: the next cycle of each connection reads its orders whole once
(``host.sync.order_facts.facts_missing``) and fills it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_facts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("connection_id", sa.Integer(), sa.ForeignKey("connections.id", ondelete="CASCADE"), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.String(length=40), nullable=False),
        sa.Column("refunded", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=255), nullable=False),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_modified", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("connection_id", "order_id"),
    )
    op.create_index("ix_order_facts_email", "order_facts", ["connection_id", "email"])
    with op.batch_alter_table("contact_profiles") as batch:
        batch.add_column(sa.Column("lifetime", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact_profiles") as batch:
        batch.drop_column("lifetime")
    op.drop_index("ix_order_facts_email", table_name="order_facts")
    op.drop_table("order_facts")
