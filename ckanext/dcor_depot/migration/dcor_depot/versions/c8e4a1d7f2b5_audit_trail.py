"""Audit trail: an append-only table of storage operations and grants

`dcor_depot_audit`: one row per event (audit/). A trigger refuses every
UPDATE and TRUNCATE, and a DELETE unless the transaction set
`dcor_depot.audit_prune_before` (what `ckan dcor-depot-audit prune` does)
and the row is older than that time.

Revision ID: c8e4a1d7f2b5
Revises: d41c7a9e2b63
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

revision = "c8e4a1d7f2b5"
down_revision = "d41c7a9e2b63"
branch_labels = None
depends_on = None

GUARD = """
CREATE OR REPLACE FUNCTION dcor_depot_audit_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  cutoff text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    cutoff := current_setting('dcor_depot.audit_prune_before', true);
    IF coalesce(cutoff, '') <> '' AND OLD.at < cutoff::timestamp THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'dcor_depot_audit is append-only: only '
      '"ckan dcor-depot-audit prune" deletes rows, and only expired ones';
  END IF;
  RAISE EXCEPTION 'dcor_depot_audit is append-only: % refused', TG_OP;
END
$$;
"""


def upgrade():
    op.create_table(
        "dcor_depot_audit",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.UnicodeText, nullable=False),
        sa.Column("action", sa.UnicodeText, nullable=False),
        sa.Column("organization_id", sa.UnicodeText),
        sa.Column("package_id", sa.UnicodeText),
        sa.Column("resource_id", sa.UnicodeText),
        sa.Column("size", sa.BigInteger),
        sa.Column("outcome", sa.UnicodeText, nullable=False),
        sa.Column("detail", JSONB),
    )
    op.create_index("dcor_depot_audit_at", "dcor_depot_audit", ["at"])
    for column in ("organization_id", "package_id", "resource_id"):
        op.create_index(f"dcor_depot_audit_{column}", "dcor_depot_audit",
                        [column, "id"])
    op.execute(GUARD)
    op.execute("CREATE TRIGGER dcor_depot_audit_rows BEFORE UPDATE OR DELETE"
               " ON dcor_depot_audit FOR EACH ROW"
               " EXECUTE PROCEDURE dcor_depot_audit_guard()")
    op.execute("CREATE TRIGGER dcor_depot_audit_truncate BEFORE TRUNCATE"
               " ON dcor_depot_audit FOR EACH STATEMENT"
               " EXECUTE PROCEDURE dcor_depot_audit_guard()")


def downgrade():
    op.drop_table("dcor_depot_audit")
    op.execute("DROP FUNCTION IF EXISTS dcor_depot_audit_guard()")
