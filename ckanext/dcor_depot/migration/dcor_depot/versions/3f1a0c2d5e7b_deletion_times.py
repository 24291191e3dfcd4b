"""When datasets and resources were deleted

CKAN records no deletion time (package_delete and resource_delete leave
metadata_modified alone), yet the grace period of dcor-depot-orphans counts
from the deletion.

Revision ID: 3f1a0c2d5e7b
Revises:
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa

revision = "3f1a0c2d5e7b"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dcor_depot_deletion",
        sa.Column("kind", sa.UnicodeText, primary_key=True),
        sa.Column("entity_id", sa.UnicodeText, primary_key=True),
        sa.Column("deleted_at", sa.DateTime, nullable=False),
    )


def downgrade():
    op.drop_table("dcor_depot_deletion")
