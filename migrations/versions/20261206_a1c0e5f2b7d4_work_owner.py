"""works.client_id: the intake client whose event last applied to a work

Revision ID: a1c0e5f2b7d4
Revises: bff3a3fd6db7
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1c0e5f2b7d4"
down_revision: str | None = "bff3a3fd6db7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("works", sa.Column("client_id", sa.String(length=200), nullable=True))
    # Existing works: the client of the newest inbox event that applied to each.
    op.execute(
        """
        UPDATE works SET client_id = latest.client_id
        FROM (
            SELECT DISTINCT ON (work_id) work_id, client_id
            FROM received_events WHERE work_id IS NOT NULL
            ORDER BY work_id, id DESC
        ) AS latest
        WHERE latest.work_id = works.id
        """
    )


def downgrade() -> None:
    op.drop_column("works", "client_id")
