"""The totals per bucket that the quota check reads are the ledger's sums
after any sequence of writes (a trigger keeps them, migration
b2e6f4a9c3d1)."""
import uuid

import pytest
import sqlalchemy as sa

from ckan import model

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.accounting import store
from ckanext.dcor_depot.db import stored_object_table as ledger

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "with_plugins"),
]


def ledger_bytes(bucket):
    with model.meta.engine.connect() as connection:
        return int(connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(ledger.c.size), 0))
            .where(ledger.c.bucket == bucket)).scalar())


def key(artifact="resource"):
    return naming.object_key(artifact, str(uuid.uuid4()))


def test_totals_follow_every_write_of_the_ledger():
    first, second = (f"t-totals-{uuid.uuid4().hex[:8]}" for _ in range(2))
    keys = [key() for _ in range(4)]
    for number, name in enumerate(keys):
        store.record_object(first, name, 1000 * (number + 1))
    store.record_object(second, key("condensed"), 77)
    assert store.bucket_bytes(first) == ledger_bytes(first) == 10_000
    assert store.bucket_bytes(second) == ledger_bytes(second) == 77

    store.record_object(first, keys[0], 5)  # an object written again
    store.forget_object(first, keys[1])  # removed
    store.forget_object(first, "no such key")
    assert store.bucket_bytes(first) == ledger_bytes(first) == 5 + 3000 + 4000

    # a write behind the store's back (the reconcile's corrections, an
    # operator's SQL) and a row moved to another bucket
    with model.meta.engine.begin() as connection:
        connection.execute(ledger.update().where(
            ledger.c.bucket == first, ledger.c.key == keys[2]).values(
            bucket=second))
        connection.execute(ledger.delete().where(
            ledger.c.bucket == first, ledger.c.key == keys[3]))
    assert store.bucket_bytes(first) == ledger_bytes(first) == 5
    assert store.bucket_bytes(second) == ledger_bytes(second) == 3077

    with model.meta.engine.begin() as connection:
        connection.execute(sa.text(
            "TRUNCATE dcor_depot_stored_object"))
    assert store.bucket_bytes(first) == store.bucket_bytes(second) == 0
    store.record_object(first, keys[0], 9)
    assert store.bucket_bytes(first) == 9
    assert store.bucket_bytes("t-totals-never-written") == 0
