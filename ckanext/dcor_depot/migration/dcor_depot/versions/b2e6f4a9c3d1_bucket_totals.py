"""Bucket totals: bytes and objects per bucket, kept by a trigger

`dcor_depot_bucket_total` holds the sum of the sizes and the number of the
rows of `dcor_depot_stored_object` per bucket. A row trigger on the ledger
applies every insert, update and delete to it in the same transaction (and
a statement trigger empties it on TRUNCATE), so it is right whoever writes
the ledger: the jobs, the reconcile, a migration. The quota check reads one
row instead of summing a bucket of any size.

Revision ID: b2e6f4a9c3d1
Revises: f3b9d2c6a184
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "b2e6f4a9c3d1"
down_revision = "f3b9d2c6a184"
branch_labels = None
depends_on = None

_APPLY = """
CREATE OR REPLACE FUNCTION dcor_depot_bucket_total_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE dcor_depot_bucket_total
           SET bytes = bytes - OLD.size, objects = objects - 1
         WHERE bucket = OLD.bucket;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO dcor_depot_bucket_total AS total (bucket, bytes, objects)
             VALUES (NEW.bucket, NEW.size, 1)
        ON CONFLICT (bucket) DO UPDATE
             SET bytes = total.bytes + NEW.size,
                 objects = total.objects + 1;
    END IF;
    RETURN NULL;
END
$$
"""

_EMPTY = """
CREATE OR REPLACE FUNCTION dcor_depot_bucket_total_empty() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dcor_depot_bucket_total;
    RETURN NULL;
END
$$
"""


def upgrade():
    op.create_table(
        "dcor_depot_bucket_total",
        sa.Column("bucket", sa.UnicodeText, primary_key=True),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("objects", sa.BigInteger, nullable=False),
    )
    op.execute("""
        INSERT INTO dcor_depot_bucket_total (bucket, bytes, objects)
        SELECT bucket, sum(size), count(*) FROM dcor_depot_stored_object
         GROUP BY bucket
    """)
    op.execute(_APPLY)
    op.execute(_EMPTY)
    op.execute("""
        CREATE TRIGGER dcor_depot_bucket_total_rows
        AFTER INSERT OR UPDATE OR DELETE ON dcor_depot_stored_object
        FOR EACH ROW EXECUTE FUNCTION dcor_depot_bucket_total_apply()
    """)
    op.execute("""
        CREATE TRIGGER dcor_depot_bucket_total_truncate
        AFTER TRUNCATE ON dcor_depot_stored_object
        FOR EACH STATEMENT EXECUTE FUNCTION dcor_depot_bucket_total_empty()
    """)


def downgrade():
    op.execute("DROP TRIGGER dcor_depot_bucket_total_truncate "
               "ON dcor_depot_stored_object")
    op.execute("DROP TRIGGER dcor_depot_bucket_total_rows "
               "ON dcor_depot_stored_object")
    op.execute("DROP FUNCTION IF EXISTS dcor_depot_bucket_total_empty()")
    op.execute("DROP FUNCTION IF EXISTS dcor_depot_bucket_total_apply()")
    op.drop_table("dcor_depot_bucket_total")
