"""Browser multipart uploads in the issued uploads' table

`dcor_depot_issued_upload` gets what the multipart upload API
(resource_upload_multipart_*) needs beside the reservation: the S3 upload
id, the dataset, the file's name and last-modified time (to find an
unfinished upload again after a reload) and the sha256 the client
computed (compared by the backup job, never trusted).

Revision ID: a7c31e5f0b92
Revises: d41c7a9e2b63
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "a7c31e5f0b92"
down_revision = "d41c7a9e2b63"
branch_labels = None
depends_on = None

TABLE = "dcor_depot_issued_upload"


def upgrade():
    op.add_column(TABLE, sa.Column("upload_id", sa.UnicodeText))
    op.add_column(TABLE, sa.Column("package_id", sa.UnicodeText))
    op.add_column(TABLE, sa.Column("name", sa.UnicodeText))
    op.add_column(TABLE, sa.Column("last_modified", sa.BigInteger))
    op.add_column(TABLE, sa.Column("client_sha256", sa.UnicodeText))
    op.create_index("dcor_depot_issued_upload_resume", TABLE,
                    ["user_id", "package_id", "name"])


def downgrade():
    op.drop_index("dcor_depot_issued_upload_resume", TABLE)
    for column in ("client_sha256", "last_modified", "name", "package_id",
                   "upload_id"):
        op.drop_column(TABLE, column)
