"""Fixity records and integrity failures

`dcor_depot_fixity_copy`: per resource and copy (`depot`, `object`) when
`ckan dcor-depot-fixity` last read it, when its bytes last matched the
resource's sha256, and the result.

`dcor_depot_integrity_failure`: resources of which no copy matched; their
downloads and archives are refused until a run finds a good copy again.

Revision ID: f3b9d2c6a184
Revises: c8e4a1d7f2b5
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "f3b9d2c6a184"
down_revision = "c8e4a1d7f2b5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dcor_depot_fixity_copy",
        sa.Column("resource_id", sa.UnicodeText, primary_key=True),
        sa.Column("copy", sa.UnicodeText, primary_key=True),
        sa.Column("checked_at", sa.DateTime, nullable=False),
        sa.Column("verified_at", sa.DateTime),
        sa.Column("result", sa.UnicodeText, nullable=False),
        sa.Column("detail", sa.UnicodeText),
    )
    op.create_index("dcor_depot_fixity_copy_checked",
                    "dcor_depot_fixity_copy", ["checked_at"])
    op.create_table(
        "dcor_depot_integrity_failure",
        sa.Column("resource_id", sa.UnicodeText, primary_key=True),
        sa.Column("failed_at", sa.DateTime, nullable=False),
        sa.Column("detail", sa.UnicodeText, nullable=False),
    )


def downgrade():
    op.drop_table("dcor_depot_integrity_failure")
    op.drop_table("dcor_depot_fixity_copy")
