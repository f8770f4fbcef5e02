"""The inbox's partial index on withdrawals covers every item's withdrawal (affiliation, funding,
peer review), not only a work's: an item's first publication looks for a withdrawal that
arrived before it and could not apply, as a work's does (RELIABILITY.md, item 18)

Revision ID: 5b2e9d4c7a18
Revises: 3e8d1b6f0a27
Create Date: 2026-12-17 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b2e9d4c7a18"
down_revision: str | None = "3e8d1b6f0a27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_received_events_withdrawal_of"
# Written out: a migration keeps the words it was written with, whatever the code says later.
EVERY_WITHDRAWAL = (
    "type IN ('work.withdrawn', 'affiliation.withdrawn', 'funding.withdrawn', "
    "'review.withdrawn')"
)


def _index(predicate: str) -> None:
    op.create_index(
        INDEX,
        "received_events",
        ["source", sa.text("(data ->> 'id')")],
        postgresql_where=sa.text(predicate),
    )


def upgrade() -> None:
    op.drop_index(INDEX, table_name="received_events")
    _index(EVERY_WITHDRAWAL)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="received_events")
    _index("type = 'work.withdrawn'")
