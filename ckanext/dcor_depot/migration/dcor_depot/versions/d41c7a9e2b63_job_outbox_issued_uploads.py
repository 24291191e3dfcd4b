"""Job outbox and issued direct uploads

`dcor_depot_job_outbox`: a job that a request asks for is written here in
the request's own transaction, queued in RQ after the commit, and removed
by the job when it succeeds. What could not be queued (Redis down, a
restart that lost the queue) or failed (S3 down) is queued again by the
workers' sweep, with back-off, up to a cap of starts.

`dcor_depot_issued_upload`: the ids handed out by resource_upload_s3_urls,
so that an upload survives a restart of Redis.

Revision ID: d41c7a9e2b63
Revises: e26a5c0d7b13
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "d41c7a9e2b63"
down_revision = "e26a5c0d7b13"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dcor_depot_job_outbox",
        sa.Column("job_id", sa.UnicodeText, primary_key=True),
        sa.Column("kind", sa.UnicodeText, nullable=False),
        sa.Column("entity_id", sa.UnicodeText, nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("starts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.UnicodeText),
    )
    op.create_index("dcor_depot_job_outbox_due", "dcor_depot_job_outbox",
                    ["next_attempt_at"])
    op.create_table(
        "dcor_depot_issued_upload",
        sa.Column("resource_id", sa.UnicodeText, primary_key=True),
        sa.Column("organization_id", sa.UnicodeText, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.UnicodeText),
        sa.Column("part_size", sa.BigInteger, nullable=False),
        sa.Column("part_count", sa.Integer, nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=False),
    )


def downgrade():
    op.drop_table("dcor_depot_issued_upload")
    op.drop_table("dcor_depot_job_outbox")
