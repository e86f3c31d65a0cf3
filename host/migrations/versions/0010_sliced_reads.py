"""reads kept page by page: a cycle cut into slices goes on from where it was

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stream_cursors") as batch:
        batch.add_column(sa.Column("read_state", sa.JSON(), nullable=True))
    op.create_table(
        "whole_read_marks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "connection_id", sa.Integer(), sa.ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
    )
    op.create_index("ix_whole_read_marks_stream", "whole_read_marks", ["connection_id", "stream"])


def downgrade() -> None:
    op.drop_index("ix_whole_read_marks_stream", table_name="whole_read_marks")
    op.drop_table("whole_read_marks")
    with op.batch_alter_table("stream_cursors") as batch:
        batch.drop_column("read_state")
