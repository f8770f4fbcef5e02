"""Dry runs (issue 15): their reports, apart from every real row; dry-run events' inbox ids
may carry the "dryrun:" prefix, so the event id column grows by it

Revision ID: d1e887fd5baa
Revises: 3dd80c8916ce
Create Date: 2026-12-12 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d1e887fd5baa"
down_revision: str | None = "3dd80c8916ce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dry_run_reports",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["received_events.id"],
            name=op.f("fk_dry_run_reports_event_id_received_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dry_run_reports")),
        sa.UniqueConstraint("event_id", name=op.f("uq_dry_run_reports_event_id")),
    )
    op.alter_column(
        "received_events",
        "event_id",
        type_=sa.String(length=1010),
        existing_type=sa.String(length=1000),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "received_events",
        "event_id",
        type_=sa.String(length=1000),
        existing_type=sa.String(length=1010),
        existing_nullable=False,
    )
    op.drop_table("dry_run_reports")
