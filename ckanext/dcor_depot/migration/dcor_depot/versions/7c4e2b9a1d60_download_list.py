"""Per-user download lists

One row per list (its archive name) and one per item (user, resource, when
it was added). Rows are keyed by ids, not names, so a renamed user or
resource keeps its list.

Revision ID: 7c4e2b9a1d60
Revises: 3f1a0c2d5e7b
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "7c4e2b9a1d60"
down_revision = "3f1a0c2d5e7b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dcor_depot_download_list",
        sa.Column("user_id", sa.UnicodeText, primary_key=True),
        sa.Column("name", sa.UnicodeText, nullable=False),
    )
    op.create_table(
        "dcor_depot_download_list_item",
        sa.Column("user_id", sa.UnicodeText, primary_key=True),
        sa.Column("resource_id", sa.UnicodeText, primary_key=True),
        sa.Column("added_at", sa.DateTime, nullable=False),
    )


def downgrade():
    op.drop_table("dcor_depot_download_list_item")
    op.drop_table("dcor_depot_download_list")
