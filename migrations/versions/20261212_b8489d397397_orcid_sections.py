"""ORCID sections beyond works: asserted affiliations, fundings and peer reviews, their items
on researchers' records, and the group ids found or registered for peer reviews

Revision ID: b8489d397397
Revises: c3d5e7f9a1b2
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b8489d397397"
down_revision: str | None = "c3d5e7f9a1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _times() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "orcid_assertions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Enum("affiliation", "funding", "review", name="orciditemkind",
                                  native_enum=False, length=32), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("external_id", sa.String(length=1000), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_orcid_assertions"),
        sa.UniqueConstraint(
            "kind", "source", "external_id", name="uq_orcid_assertions_kind_source_external_id"
        ),
    )  # fmt: skip
    op.create_table(
        "orcid_items",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("assertion_id", sa.BigInteger(), nullable=False),
        sa.Column("orcid", sa.String(length=19), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("section", sa.String(length=32), nullable=False),
        sa.Column("put_code", sa.BigInteger(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending", "placed", "awaiting_consent", "awaiting_doi", "skipped",
                "removed_by_researcher", "not_ours", "deleted", "failed",
                name="placementstate", native_enum=False, length=32,
            ),
            nullable=False,
        ),
        sa.Column("confirmed_hash", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("in_doubt", sa.Boolean(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        *_times(),
        sa.ForeignKeyConstraint(
            ["assertion_id"], ["orcid_assertions.id"],
            name="fk_orcid_items_assertion_id_orcid_assertions", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_orcid_items"),
        sa.UniqueConstraint(
            "assertion_id", "orcid", "client_id",
            name="uq_orcid_items_assertion_orcid_client", postgresql_nulls_not_distinct=True,
        ),
    )  # fmt: skip
    op.create_index("ix_orcid_items_orcid", "orcid_items", ["orcid"])
    op.create_index(
        "ix_orcid_items_state_next_attempt_at", "orcid_items", ["state", "next_attempt_at"]
    )
    op.create_table(
        "orcid_group_ids",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("group_id", sa.String(length=1000), nullable=False),
        sa.Column("put_code", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_orcid_group_ids"),
        sa.UniqueConstraint("group_id", name="uq_orcid_group_ids_group_id"),
    )


def downgrade() -> None:
    op.drop_table("orcid_group_ids")
    op.drop_index("ix_orcid_items_state_next_attempt_at", table_name="orcid_items")
    op.drop_index("ix_orcid_items_orcid", table_name="orcid_items")
    op.drop_table("orcid_items")
    op.drop_table("orcid_assertions")
