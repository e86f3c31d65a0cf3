"""the records a run read per contact profile, kept on the profile (flat memory)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_profiles") as batch:
        batch.add_column(sa.Column("run_reads", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact_profiles") as batch:
        batch.drop_column("run_reads")
