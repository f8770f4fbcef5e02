"""api_calls.work_id without a foreign key: a call's record, written in its own transaction,
no longer waits on (or is refused for) the work row the calling unit of work holds

Revision ID: 9a3f1c7e2b64
Revises: 7e4b2c9d5a13
Create Date: 2026-12-15 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9a3f1c7e2b64"
down_revision: str | None = "7e4b2c9d5a13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("fk_api_calls_work_id_works", "api_calls", type_="foreignkey")


def downgrade() -> None:
    # Records naming works deleted since then would refuse the constraint: forget those ids.
    op.execute("UPDATE api_calls SET work_id = NULL WHERE work_id NOT IN (SELECT id FROM works)")
    op.create_foreign_key(
        "fk_api_calls_work_id_works", "api_calls", "works", ["work_id"], ["id"],
        ondelete="SET NULL",
    )  # fmt: skip
