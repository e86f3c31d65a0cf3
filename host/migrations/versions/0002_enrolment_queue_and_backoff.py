"""enrolment calls (the hourly allowance, settling lost answers), enrolment due times, ledger back-off

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrolment_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=True),
        sa.Column("account_key", sa.String(length=320), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("contact_count", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("destination_id", sa.String(length=64), nullable=True),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_enrolment_calls_account_key"), "enrolment_calls", ["account_key"])
    op.create_index(op.f("ix_enrolment_calls_made_at"), "enrolment_calls", ["made_at"])
    with op.batch_alter_table("enrolments") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("call_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_enrolments_call_id", "enrolment_calls", ["call_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("next_attempt_at")
    with op.batch_alter_table("enrolments") as batch:
        batch.drop_constraint("fk_enrolments_call_id", type_="foreignkey")
        batch.drop_column("call_id")
        batch.drop_column("due_at")
    op.drop_index(op.f("ix_enrolment_calls_made_at"), table_name="enrolment_calls")
    op.drop_index(op.f("ix_enrolment_calls_account_key"), table_name="enrolment_calls")
    op.drop_table("enrolment_calls")
