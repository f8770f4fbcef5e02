"""ORCID retries on rows: orcid_placements.next_attempt_at, and orcid_grant_attempts (the tries
of each effect about a grant: token check and revocation, permission notification, webhooks,
reconciliation)

Revision ID: bee17795b75e
Revises: b7e2c4d9a013
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bee17795b75e"
down_revision: str | None = "b7e2c4d9a013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "orcid_placements",
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "orcid_grant_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("grant_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "effect",
            sa.Enum(
                "orcid.check_grant",
                "orcid.revoke_token",
                "orcid.request_permission",
                "orcid.register_webhook",
                "orcid.unregister_webhook",
                "orcid.reconcile",
                name="granteffect",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["orcid_grants.id"],
            name=op.f("fk_orcid_grant_attempts_grant_id_orcid_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orcid_grant_attempts")),
        sa.UniqueConstraint("grant_id", "effect", name="uq_orcid_grant_attempts_grant_effect"),
    )


def downgrade() -> None:
    op.drop_table("orcid_grant_attempts")
    op.drop_column("orcid_placements", "next_attempt_at")
