"""A partial index on the inbox's withdrawals by (source, item id): a work's first publication
looks for a withdrawal that arrived before it and could not apply (a withdrawal that overtook
its publication by more than the events' backoff was lost, and the older publication then
brought the work back: the chaos run)

Revision ID: 3e8d1b6f0a27
Revises: 9a3f1c7e2b64
Create Date: 2026-12-16 20:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e8d1b6f0a27"
down_revision: str | None = "9a3f1c7e2b64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_received_events_withdrawal_of",
        "received_events",
        ["source", sa.text("(data ->> 'id')")],
        postgresql_where=sa.text("type = 'work.withdrawn'"),
    )


def downgrade() -> None:
    op.drop_index("ix_received_events_withdrawal_of", table_name="received_events")
