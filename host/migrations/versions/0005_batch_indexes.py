"""indexes that fit the sync's batch queries

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:45:00

Each was a scan of every row of the connection on every page or batch, so a backfill grew
quadratic with the store: the changed-email check (customer ids of a page), the contacts
phase's dirty batches, the outbox batches, the retry pass's failed rows and the enrolments
waiting among all those ever made.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WAITING = sa.text("outbox IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_contact_profiles_customer_id", table_name="contact_profiles")
    op.create_index("ix_contact_profiles_customer", "contact_profiles", ["connection_id", "customer_id"])
    op.create_index("ix_contact_profiles_dirty", "contact_profiles", ["connection_id", "dirty", "id"])
    op.create_index(
        "ix_ledger_outbox", "ledger", ["connection_id", "kind", "id"],
        sqlite_where=WAITING, postgresql_where=WAITING,
    )
    op.create_index("ix_ledger_state", "ledger", ["connection_id", "kind", "state"])
    op.create_index("ix_enrolments_state", "enrolments", ["connection_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_enrolments_state", table_name="enrolments")
    op.drop_index("ix_ledger_state", table_name="ledger")
    op.drop_index("ix_ledger_outbox", table_name="ledger")
    op.drop_index("ix_contact_profiles_dirty", table_name="contact_profiles")
    op.drop_index("ix_contact_profiles_customer", table_name="contact_profiles")
    op.create_index("ix_contact_profiles_customer_id", "contact_profiles", ["customer_id"])
