"""Indexes on the states of DOI registrations and ORCID placements: the metrics count the rows
not settled yet at every scrape, a few among millions

Revision ID: 48ba60df6e8b
Revises: c3d5e7f9a1b2
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "48ba60df6e8b"
down_revision: str | None = "c3d5e7f9a1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Built without locking writes: both tables are large and written all the time.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_doi_registrations_state", "doi_registrations", ["state"],
            postgresql_concurrently=True, if_not_exists=True,
        )
        op.create_index(
            "ix_orcid_placements_state", "orcid_placements", ["state"],
            postgresql_concurrently=True, if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_orcid_placements_state", table_name="orcid_placements",
                      postgresql_concurrently=True, if_exists=True)
        op.drop_index("ix_doi_registrations_state", table_name="doi_registrations",
                      postgresql_concurrently=True, if_exists=True)
