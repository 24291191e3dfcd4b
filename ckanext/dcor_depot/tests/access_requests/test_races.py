"""Two decisions on one request at once (issue 24, item 1): the second
waits for the first one's row lock and then finds the request closed, so
a request is never granted and declined, and a decline cannot undo a
grant's membership record."""
import datetime
import threading
import time

import pytest
import sqlalchemy as sa

import ckan.plugins.toolkit as tk
from ckan import authz, model

from ckanext.dcor_depot.db import access_request_table

from .common import decide, item_left_behind, request_access

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def waiting_for_a_lock(connection) -> int:
    return connection.execute(sa.text(
        "select count(*) from pg_stat_activity where datname = "
        "current_database() and wait_event_type = 'Lock'")).scalar()


def test_a_decision_waits_for_another_and_finds_the_request_closed(app):
    user, admin, circle, dataset, resources = item_left_behind(app)
    request = request_access(user, [resources[0]["id"]])["requests"][0]
    outcome = {}

    def decline():
        try:
            outcome["answer"] = decide(admin, request["id"], "decline")
        except tk.ValidationError as exc:
            outcome["refused"] = exc.error_dict
        finally:
            model.Session.remove()

    engine = model.meta.engine
    # the observer outside a transaction: pg_stat_activity is a snapshot
    # per transaction
    with engine.connect() as other, engine.connect().execution_options(
            isolation_level="AUTOCOMMIT") as observer:
        decision = other.begin()  # another admin's decision, uncommitted
        other.execute(access_request_table.update().where(
            access_request_table.c.id == request["id"]).values(
            state="granted", decided_at=datetime.datetime.utcnow()))
        thread = threading.Thread(target=decline)
        thread.start()
        deadline = time.monotonic() + 120  # a bound, not a measurement
        while not waiting_for_a_lock(observer):
            assert thread.is_alive() and time.monotonic() < deadline, \
                "the second decision did not wait for the row lock"
            time.sleep(0.05)
        decision.commit()
    thread.join(120)
    assert not thread.is_alive()
    assert "answer" not in outcome
    assert outcome["refused"]["id"] == [
        f"access request {request['id']} is closed already: only an open "
        "request can be decided"]
    state = model.Session.execute(sa.select(access_request_table.c.state)
                                  .where(access_request_table.c.id ==
                                         request["id"])).scalar()
    assert state == "granted"
    assert authz.users_role_for_group_or_org(circle["id"],
                                             user["name"]) is None
