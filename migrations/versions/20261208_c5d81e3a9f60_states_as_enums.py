"""States as enums: the registrar, target state, duplicate check, Crossref record intent and
outcome become enum columns (text of at most 32 characters, as every state column).

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
)


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
    for table, column in ENUM_COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.String(length=20),
            type_=sa.String(length=32),
        )


def downgrade() -> None:
    for table, column in ENUM_COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.String(length=32),
            type_=sa.String(length=20),
        )
