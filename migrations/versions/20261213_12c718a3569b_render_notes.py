"""Render notes (issue 16): what the registrar's or ORCID's format could not hold of the Work
last sent, kept on the registration and the placement row for the status API

Revision ID: 12c718a3569b
Revises: 161c28ed1d9d
Create Date: 2026-12-13 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "12c718a3569b"
down_revision: str | None = "161c28ed1d9d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: a row sent before this migration shows no notes until its next
    # send (nothing is recomputed in bulk).
    for table in ("doi_registrations", "orcid_placements"):
        op.add_column(
            table,
            sa.Column("render_notes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        )


def downgrade() -> None:
    for table in ("doi_registrations", "orcid_placements"):
        op.drop_column(table, "render_notes")
