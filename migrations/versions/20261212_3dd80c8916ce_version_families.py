"""Version families: a work's family key and the identifiers it links as versions (issue 15)

Existing works start outside any family (NULL): `pidsync orcid versions converge` computes
every work's family from its stored metadata and brings placements in line.

Revision ID: 3dd80c8916ce
Revises: 5367c74c4677
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3dd80c8916ce"
down_revision: str | None = "5367c74c4677"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("works", sa.Column("family", sa.String(length=1000), nullable=True))
    op.add_column(
        "works",
        sa.Column("family_links", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_index(op.f("ix_works_family"), "works", ["family"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_works_family"), table_name="works")
    op.drop_column("works", "family_links")
    op.drop_column("works", "family")
