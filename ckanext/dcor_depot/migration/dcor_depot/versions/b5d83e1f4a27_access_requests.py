"""Access requests of the download list

A user asks a circle's admins for access to files on their download list
that they may no longer read: one row per request (user, circle, state,
message, the decision) and one per file it names. At most one request of
a user to a circle is open at a time (a partial unique index), so two
requests at once cannot both open one.

Revision ID: b5d83e1f4a27
Revises: 7c4e2b9a1d60
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "b5d83e1f4a27"
down_revision = "7c4e2b9a1d60"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dcor_depot_access_request",
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("user_id", sa.UnicodeText, nullable=False),
        sa.Column("organization_id", sa.UnicodeText, nullable=False),
        sa.Column("state", sa.UnicodeText, nullable=False),
        sa.Column("message", sa.UnicodeText, nullable=False,
                  server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("decided_by", sa.UnicodeText),
        sa.Column("reason", sa.UnicodeText),
    )
    op.create_index(
        "dcor_depot_access_request_one_open",
        "dcor_depot_access_request", ["user_id", "organization_id"],
        unique=True, postgresql_where=sa.text("state = 'open'"))
    op.create_index(
        "dcor_depot_access_request_circle",
        "dcor_depot_access_request", ["organization_id", "state"])
    op.create_table(
        "dcor_depot_access_request_item",
        sa.Column("request_id", sa.UnicodeText,
                  sa.ForeignKey("dcor_depot_access_request.id",
                                ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("resource_id", sa.UnicodeText, primary_key=True),
    )


def downgrade():
    op.drop_table("dcor_depot_access_request_item")
    op.drop_table("dcor_depot_access_request")
