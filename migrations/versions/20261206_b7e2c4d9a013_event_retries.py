"""received_events.next_attempt_at; the statuses 'processing' and 'unimplemented' go

Revision ID: b7e2c4d9a013
Revises: a1c0e5f2b7d4
Create Date: 2026-12-06 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e2c4d9a013"
down_revision: str | None = "a1c0e5f2b7d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "received_events",
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    # 'processing' was never set; 'unimplemented' events were applied with a note.
    op.execute("UPDATE received_events SET status = 'received' WHERE status = 'processing'")
    op.execute("UPDATE received_events SET status = 'done' WHERE status = 'unimplemented'")


def downgrade() -> None:
    op.drop_column("received_events", "next_attempt_at")
