"""Indexes for the scheduler's sweeps, which scanned whole tables every 30 s: open placements by
state (stalled, awaiting consent, awaiting a DOI), registrations with a change to send, and the
read-back order of confirmed registrations (benchmark ``scale``, BENCHMARKS.md)

Revision ID: 161c28ed1d9d
Revises: d1e887fd5baa
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "161c28ed1d9d"
down_revision: str | None = "d1e887fd5baa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_orcid_placements_state_id", "orcid_placements", ["state", "id"])
    # (state, id) serves every query the dashboard's state index served.
    op.drop_index("ix_orcid_placements_state", table_name="orcid_placements")
    op.create_index(
        "ix_doi_registrations_pending",
        "doi_registrations",
        ["id"],
        postgresql_where=sa.text("pending_hash IS NOT NULL"),
    )
    op.create_index(
        "ix_doi_registrations_read_back",
        "doi_registrations",
        [sa.text("reconciled_at NULLS FIRST"), "id"],
        postgresql_where=sa.text("pending_hash IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_doi_registrations_read_back", table_name="doi_registrations")
    op.drop_index("ix_doi_registrations_pending", table_name="doi_registrations")
    op.create_index("ix_orcid_placements_state", "orcid_placements", ["state"])
    op.drop_index("ix_orcid_placements_state_id", table_name="orcid_placements")
