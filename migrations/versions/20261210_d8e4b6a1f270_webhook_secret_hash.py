"""ORCID webhook secrets kept as a hash (and ciphertext), found by a random id

orcid_grants.webhook_secret (plain text) becomes webhook_id (the callback's lookup id),
webhook_secret_hash (SHA-256 hex, checks ORCID's calls) and webhook_secret_enc (Fernet
ciphertext, made by the application when it registers a webhook, to rebuild the URL ORCID
needs to remove it). Webhooks registered before this migration were called back at
/webhooks/orcid/{orcid}/{secret}: their id becomes the record's iD and their secret is hashed,
so those URLs keep working; their ciphertext cannot be made here (no keys in a migration), so
removing such a webhook is reported to the operator instead.

Revision ID: d8e4b6a1f270
Revises: c3f1a9d27e60
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d8e4b6a1f270"
down_revision: str | None = "c3f1a9d27e60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orcid_grants", sa.Column("webhook_id", sa.String(length=32), nullable=True))
    op.add_column(
        "orcid_grants", sa.Column("webhook_secret_hash", sa.String(length=64), nullable=True)
    )
    op.add_column("orcid_grants", sa.Column("webhook_secret_enc", sa.LargeBinary(), nullable=True))
    op.execute(
        """
        UPDATE orcid_grants AS g
           SET webhook_id = r.orcid,
               webhook_secret_hash = encode(sha256(convert_to(g.webhook_secret, 'UTF8')), 'hex')
          FROM researchers AS r
         WHERE r.id = g.researcher_id AND g.webhook_secret IS NOT NULL
        """
    )
    op.drop_column("orcid_grants", "webhook_secret")
    op.create_index(
        op.f("ix_orcid_grants_webhook_id"), "orcid_grants", ["webhook_id"], unique=False
    )


def downgrade() -> None:
    # The plain secrets are gone: webhooks are forgotten and registered again by the upkeep.
    op.drop_index(op.f("ix_orcid_grants_webhook_id"), table_name="orcid_grants")
    op.add_column(
        "orcid_grants", sa.Column("webhook_secret", sa.String(length=100), nullable=True)
    )
    op.execute("UPDATE orcid_grants SET webhook_registered_at = NULL")
    op.drop_column("orcid_grants", "webhook_secret_enc")
    op.drop_column("orcid_grants", "webhook_secret_hash")
    op.drop_column("orcid_grants", "webhook_id")
