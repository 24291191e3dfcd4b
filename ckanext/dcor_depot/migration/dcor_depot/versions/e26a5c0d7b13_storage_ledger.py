"""Storage accounting: the objects each circle's bucket holds

One row per object of ours (resource, condensed, preview, staging) with
its size, written by the jobs as they store or remove objects, and
corrected by `ckan dcor-depot-usage --reconcile` from the bucket listing.
A circle's figures are sums over its bucket's rows. One row per bucket
records when it was last reconciled and the drift found then; one row per
circle whose quota a sysadmin set holds that quota (circle_quota_update).

Revision ID: e26a5c0d7b13
Revises: b5d83e1f4a27
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "e26a5c0d7b13"
down_revision = "b5d83e1f4a27"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dcor_depot_stored_object",
        sa.Column("bucket", sa.UnicodeText, primary_key=True),
        sa.Column("key", sa.UnicodeText, primary_key=True),
        sa.Column("artifact", sa.UnicodeText, nullable=False),
        sa.Column("resource_id", sa.UnicodeText, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("dcor_depot_stored_object_resource",
                    "dcor_depot_stored_object", ["resource_id"])
    op.create_table(
        "dcor_depot_bucket_reconciled",
        sa.Column("bucket", sa.UnicodeText, primary_key=True),
        sa.Column("reconciled_at", sa.DateTime, nullable=False),
        sa.Column("drift_bytes", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "dcor_depot_circle_quota",
        sa.Column("organization_id", sa.UnicodeText, primary_key=True),
        sa.Column("quota_bytes", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.UnicodeText),
    )


def downgrade():
    op.drop_table("dcor_depot_circle_quota")
    op.drop_table("dcor_depot_bucket_reconciled")
    op.drop_table("dcor_depot_stored_object")
