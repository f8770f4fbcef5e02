"""Tenancy: random event receipts, event body hashes, owners of grants and placements; the
owners of existing rows filled from the inbox

Revision ID: c3d5e7f9a1b2
Revises: d8e4b6a1f270
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3d5e7f9a1b2"
down_revision: str | None = "d8e4b6a1f270"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("received_events", sa.Column("receipt", sa.Uuid(), nullable=True))
    op.execute("UPDATE received_events SET receipt = gen_random_uuid()")
    op.alter_column("received_events", "receipt", nullable=False)
    op.create_unique_constraint("uq_received_events_receipt", "received_events", ["receipt"])
    op.add_column("received_events", sa.Column("body_hash", sa.String(length=64), nullable=True))
    op.add_column("orcid_grants", sa.Column("owner", sa.String(length=200), nullable=True))
    op.add_column("orcid_placements", sa.Column("owner", sa.String(length=200), nullable=True))
    # A work's owner is the client whose event created it: its earliest inbox event.
    op.execute(
        """
        UPDATE works SET client_id = first.client_id
        FROM (
            SELECT DISTINCT ON (work_id) work_id, client_id
            FROM received_events WHERE work_id IS NOT NULL
            ORDER BY work_id, id
        ) AS first
        WHERE first.work_id = works.id
        """
    )
    op.execute(
        """
        UPDATE doi_registrations SET client_id = works.client_id
        FROM works WHERE works.id = doi_registrations.work_id AND works.client_id IS NOT NULL
        """
    )
    op.execute(
        """
        UPDATE orcid_placements SET owner = works.client_id
        FROM works WHERE works.id = orcid_placements.work_id
        """
    )
    # A grant's owner: the client of the latest researcher.authorized event that stored it;
    # grants no event stored came through the consent flow (owner stays NULL).
    op.execute(
        """
        UPDATE orcid_grants SET owner = latest.client_id
        FROM researchers, (
            SELECT DISTINCT ON (data->>'orcid', data->>'client_id')
                   data->>'orcid' AS orcid, data->>'client_id' AS orcid_client, client_id
            FROM received_events
            WHERE type = 'researcher.authorized' AND status = 'done'
            ORDER BY data->>'orcid', data->>'client_id', id DESC
        ) AS latest
        WHERE researchers.id = orcid_grants.researcher_id
          AND latest.orcid = researchers.orcid
          AND latest.orcid_client = orcid_grants.client_id
        """
    )


def downgrade() -> None:
    op.drop_column("orcid_placements", "owner")
    op.drop_column("orcid_grants", "owner")
    op.drop_column("received_events", "body_hash")
    op.drop_constraint("uq_received_events_receipt", "received_events", type_="unique")
    op.drop_column("received_events", "receipt")
