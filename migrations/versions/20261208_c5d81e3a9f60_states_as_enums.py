"""States as enums: the registrar, target state, duplicate check, Crossref record intent and
outcome, ORCID visibility and consent outcome become enum columns (text of at most 32
characters, as every state column); a placement awaiting consent has client_id NULL instead of
'' (still one per work and ORCID iD: NULLS NOT DISTINCT); a consent's reason leaves its outcome
for a column of its own.

Revision ID: c5d81e3a9f60
Revises: bee17795b75e
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5d81e3a9f60"
down_revision: str | None = "bee17795b75e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Columns pidsync itself only ever wrote with the enum's values: (table, column, values).
#: Anything else there is refused rather than guessed at.
OWN_WORDS = (
    ("doi_registrations", "registrar", ("datacite", "crossref")),
    ("doi_registrations", "target_state", ("findable", "registered")),
    ("doi_registrations", "duplicate_check", ("pending", "clear", "held", "released", "skipped")),
    ("crossref_deposit_records", "intent", ("register", "withdraw")),
)
ENUM_COLUMNS = (
    *((table, column) for table, column, _ in OWN_WORDS),
    ("crossref_deposit_records", "status"),
    ("orcid_placements", "visibility"),
)
PLACEMENTS_KEY = ("work_id", "orcid", "client_id")


def upgrade() -> None:
    connection = op.get_bind()
    for table, column, values in OWN_WORDS:
        odd = connection.execute(
            sa.text(
                f"SELECT DISTINCT {column} FROM {table} "  # noqa: S608 - names are constants
                f"WHERE {column} IS NOT NULL AND {column} <> ALL(:values)"
            ),
            {"values": list(values)},
        ).scalars()
        found = sorted(odd)
        if found:
            raise RuntimeError(f"{table}.{column} holds values no state names: {found}")
    # Crossref's words as read from its diagnostics: anything but an acceptance was handled as
    # a failure, so it is stored as one.
    op.execute(
        "UPDATE crossref_deposit_records SET status = 'Failure' "
        "WHERE status IS NOT NULL AND status NOT IN ('Success', 'Warning', 'Failure')"
    )
    # ORCID's visibilities; a word ORCID does not define is forgotten (the next read sets it).
    op.execute(
        "UPDATE orcid_placements SET visibility = NULL WHERE visibility IS NOT NULL "
        "AND visibility NOT IN ('public', 'limited', 'registered-only', 'private')"
    )
    for table, column in ENUM_COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.String(length=20),
            type_=sa.String(length=32),
        )

    op.alter_column(
        "orcid_placements", "client_id", existing_type=sa.String(length=100), nullable=True
    )
    op.execute("UPDATE orcid_placements SET client_id = NULL WHERE client_id = ''")
    op.drop_constraint("uq_orcid_placements_work_orcid", "orcid_placements", type_="unique")
    op.create_unique_constraint(
        "uq_orcid_placements_work_orcid",
        "orcid_placements",
        list(PLACEMENTS_KEY),
        postgresql_nulls_not_distinct=True,
    )

    op.add_column("oauth_states", sa.Column("outcome_reason", sa.Text(), nullable=True))
    # 'granted', or 'denied: <reason>' / 'failed: <reason>'.
    op.execute(
        """
        UPDATE oauth_states SET
            outcome_reason = NULLIF(substr(outcome, length(split_part(outcome, ': ', 1)) + 3), ''),
            outcome = CASE split_part(outcome, ': ', 1)
                WHEN 'granted' THEN 'granted' WHEN 'denied' THEN 'denied' ELSE 'failed' END
        WHERE outcome IS NOT NULL
        """
    )
    op.alter_column(
        "oauth_states",
        "outcome",
        existing_type=sa.Text(),
        type_=sa.String(length=32),
        postgresql_using="outcome::varchar(32)",
    )


def downgrade() -> None:
    op.alter_column(
        "oauth_states",
        "outcome",
        existing_type=sa.String(length=32),
        type_=sa.Text(),
    )
    op.execute(
        "UPDATE oauth_states SET outcome = outcome || ': ' || outcome_reason "
        "WHERE outcome_reason IS NOT NULL"
    )
    op.drop_column("oauth_states", "outcome_reason")

    op.drop_constraint("uq_orcid_placements_work_orcid", "orcid_placements", type_="unique")
    op.execute("UPDATE orcid_placements SET client_id = '' WHERE client_id IS NULL")
    op.create_unique_constraint(
        "uq_orcid_placements_work_orcid", "orcid_placements", list(PLACEMENTS_KEY)
    )
    op.alter_column(
        "orcid_placements", "client_id", existing_type=sa.String(length=100), nullable=False
    )

    for table, column in ENUM_COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.String(length=32),
            type_=sa.String(length=20),
        )
