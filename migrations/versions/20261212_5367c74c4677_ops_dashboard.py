"""The ops dashboard: an audit of operators' actions, and indexes for its searches, timelines
and problem lists (each would otherwise scan its table on a large database)

Revision ID: 5367c74c4677
Revises: b8489d397397
Create Date: 2026-12-12 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5367c74c4677"
down_revision: str | None = "b8489d397397"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_received_events_work_id", "received_events", ["work_id"]),
    ("ix_received_events_received_at", "received_events", ["received_at"]),
    ("ix_works_external_id", "works", ["external_id"]),
    ("ix_works_doi", "works", ["doi"]),
    ("ix_works_client_id", "works", ["client_id"]),
    ("ix_doi_registrations_state", "doi_registrations", ["state"]),
    ("ix_doi_registrations_pending_since", "doi_registrations", ["pending_since"]),
    ("ix_orcid_placements_state", "orcid_placements", ["state"]),
    ("ix_api_calls_work_id", "api_calls", ["work_id"]),
    ("ix_api_calls_created_at", "api_calls", ["created_at"]),
    ("ix_dead_letters_created_at", "dead_letters", ["created_at"]),
)


def upgrade() -> None:
    op.create_table(
        "ops_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "retry",
                "retry_reason",
                "release_hold",
                "discard",
                "replay",
                "purge",
                name="opsactionkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("target_kind", sa.String(length=30), nullable=True),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_actions")),
    )
    op.create_index("ix_ops_actions_target", "ops_actions", ["target_kind", "target_id"])
    op.create_index("ix_ops_actions_created_at", "ops_actions", ["created_at"])
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_ops_actions_created_at", table_name="ops_actions")
    op.drop_index("ix_ops_actions_target", table_name="ops_actions")
    op.drop_table("ops_actions")
