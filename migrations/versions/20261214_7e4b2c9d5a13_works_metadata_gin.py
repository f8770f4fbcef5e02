"""A GIN index (jsonb_path_ops) on works.metadata: a grant's backfill finds the works naming
the researcher by containment (metadata @> {"contributors": [{"orcid": ...}]}), which scanned
every work per arriving grant

Revision ID: 7e4b2c9d5a13
Revises: 12c718a3569b
Create Date: 2026-12-14 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7e4b2c9d5a13"
down_revision: str | None = "12c718a3569b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_works_metadata_path_ops",
        "works",
        ["metadata"],
        postgresql_using="gin",
        postgresql_ops={"metadata": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_works_metadata_path_ops", table_name="works")
