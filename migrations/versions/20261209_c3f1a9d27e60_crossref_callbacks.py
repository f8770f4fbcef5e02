"""Crossref's notification callback: crossref_deposits.notified_at (when Crossref last said the
submission's log is ready; the poll it brings forward reads the outcome)

Revision ID: c3f1a9d27e60
Revises: c5d81e3a9f60
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3f1a9d27e60"
down_revision: str | None = "c5d81e3a9f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "crossref_deposits",
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_crossref_deposits_doi_batch_id", "crossref_deposits", ["doi_batch_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_crossref_deposits_doi_batch_id", table_name="crossref_deposits")
    op.drop_column("crossref_deposits", "notified_at")
