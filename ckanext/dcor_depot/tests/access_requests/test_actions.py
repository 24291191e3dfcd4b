"""Access requests through their actions (issue 24, item 1): one request
per circle and user, idempotent while open, what admins and requesters
see (privacy), grant through organization_member_create, decline, and
bad input."""
import pytest
import sqlalchemy as sa

import ckan.plugins.toolkit as tk
from ckan import authz, model
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.dcor_depot.db import access_request_item_table
from ckanext.dcor_depot.db import access_request_table

from .common import (as_user, circle_requests, circle_with_files, decide,
                     item_left_behind, items_by_id, leave, request_access)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def stored_requests(user):
    """The user's requests in the table (it outlives CKAN's clean_db)."""
    return model.Session.execute(sa.select(
        access_request_table.c.state, access_request_table.c.message).where(
        access_request_table.c.user_id == user["id"])).all()


def stored_items(user):
    return sorted(model.Session.execute(sa.select(
        access_request_item_table.c.resource_id).join(
        access_request_table, access_request_table.c.id ==
        access_request_item_table.c.request_id).where(
        access_request_table.c.user_id == user["id"])).scalars())


def test_one_request_per_circle_and_idempotent_while_open(app):
    user, admin, circle, dataset, resources = item_left_behind(
        app, names=["a.rtdc", "b.rtdc"])
    other_admin = factories.User()
    _, _, other_circle, _, others = item_left_behind(
        app, user=user, admin=other_admin, names=["c.rtdc"])
    ids = [r["id"] for r in resources] + [others[0]["id"]]

    result = request_access(user, ids, message="  for my thesis  ")
    assert len(result["requests"]) == 2
    first, second = result["requests"]
    assert first["created"] and second["created"]
    assert first["state"] == "open" and first["message"] == "for my thesis"
    assert sorted(first["resource_ids"]) == sorted(ids[:2])
    assert second["resource_ids"] == [ids[2]]
    assert set(first) == {"id", "state", "resource_ids", "message",
                          "created"}  # no circle, no admin
    assert len(stored_requests(user)) == 2

    # again, while open: nothing is added, the open one is answered
    again = request_access(user, ids[:1], message="another message")
    assert again["requests"] == [{**first, "created": False}]
    assert len(stored_requests(user)) == 2
    assert stored_items(user) == sorted(ids)
    states = items_by_id(user)
    assert all(states[rid]["access_request"] == "open" for rid in ids)
    assert all(states[rid]["access_request_reason"] is None for rid in ids)


def test_admins_see_the_request_and_nothing_else_of_the_list(app):
    """The request names only the files of its circle; the admin sees the
    requester's name and those files, nothing of their other items."""
    user, admin, circle, dataset, resources = item_left_behind(
        app, names=["a.rtdc", "b.rtdc"])
    # the user's other items: a readable one, and one of another circle
    _, _, readable = circle_with_files(app, user, ["mine.rtdc"])
    call_action("download_list_add", as_user(user),
                resource_ids=[readable[0]["id"]])
    other_admin = factories.User()
    _, _, other_circle, _, others = item_left_behind(
        app, user=user, admin=other_admin, names=["other.rtdc"])

    request_access(user, [resources[0]["id"]], message="please")
    listed = circle_requests(admin, circle)
    assert len(listed) == 1
    request = listed[0]
    assert request["user"] == user["name"] and request["state"] == "open"
    assert request["message"] == "please"
    assert request["resource_ids"] == [resources[0]["id"]]
    assert request["decided"] is request["decided_by"] is None
    text = repr(listed)
    for absent in (resources[1]["id"], readable[0]["id"], others[0]["id"]):
        assert absent not in text
    # the other circle's admin sees no request at all
    assert circle_requests(other_admin, other_circle) == []


def test_grant_makes_the_user_a_member_and_the_item_readable(app):
    user, admin, circle, dataset, resources = item_left_behind(app)
    rid = resources[0]["id"]
    request = request_access(user, [rid])["requests"][0]
    assert items_by_id(user)[rid]["readable"] is False

    decided = decide(admin, request["id"], "grant")
    assert decided["state"] == "granted"
    assert decided["decided_by"] == admin["name"]
    assert authz.users_role_for_group_or_org(circle["id"],
                                             user["name"]) == "member"
    item = items_by_id(user)[rid]  # without being added again
    assert item["readable"] is True and item["resource_name"] == "cells.rtdc"
    assert item["dataset_name"] == dataset["name"]
    assert "access_request" not in item
    assert circle_requests(admin, circle, state="open") == []
    assert [r["state"] for r in circle_requests(admin, circle)] == [
        "granted"]
    # once granted, a new request may be made later (it is closed)
    leave(circle, user, admin)
    assert items_by_id(user)[rid]["access_request"] == "granted"
    assert request_access(user, [rid])["requests"][0]["created"] is True


def test_grant_keeps_a_higher_role(app):
    user, admin, circle, dataset, resources = item_left_behind(app)
    request = request_access(user, [resources[0]["id"]])["requests"][0]
    call_action("organization_member_create", as_user(admin),
                id=circle["id"], username=user["name"], role="editor")
    assert decide(admin, request["id"], "grant")["state"] == "granted"
    assert authz.users_role_for_group_or_org(circle["id"],
                                             user["name"]) == "editor"


def test_a_declined_request_reveals_nothing_more(app):
    user, admin, circle, dataset, resources = item_left_behind(app)
    rid = resources[0]["id"]
    before = call_action("download_list_show", as_user(user))
    request = request_access(user, [rid])["requests"][0]
    decided = decide(admin, request["id"], "decline",
                     reason="the data is embargoed until May")
    assert decided["state"] == "declined"
    assert decided["reason"] == "the data is embargoed until May"
    after = call_action("download_list_show", as_user(user))
    item = after["items"][0]
    assert item["access_request"] == "declined"
    assert item["access_request_reason"] == "the data is embargoed until May"
    for key in ("resource_name", "dataset_id", "dataset_name", "size",
                "sha256"):
        assert item[key] is None
    # apart from the request's state and reason, the list is as it was
    strip = lambda listing: {**listing, "items": [  # noqa: E731
        {k: v for k, v in i.items() if not k.startswith("access_request")}
        for i in listing["items"]]}
    assert strip(after) == strip(before)
    assert authz.users_role_for_group_or_org(circle["id"],
                                             user["name"]) is None
    for text in (repr(after), repr(request)):
        assert circle["id"] not in text and circle["name"] not in text
        assert dataset["name"] not in text


def test_bad_input_is_refused_with_one_line_and_changes_nothing(app):
    user, admin, circle, dataset, resources = item_left_behind(app)
    rid = resources[0]["id"]
    _, _, readable = circle_with_files(app, user, ["mine.rtdc"])
    call_action("download_list_add", as_user(user),
                resource_ids=[readable[0]["id"]])
    _, _, elsewhere = circle_with_files(app, admin, ["not-listed.rtdc"])
    cases = {
        (elsewhere[0]["id"],): f"not on your download list: "
                               f"{elsewhere[0]['id']}",
        (rid, readable[0]["id"]): f"you may read resource "
                                  f"{readable[0]['id']} already",
    }
    for ids, line in cases.items():
        with pytest.raises(tk.ValidationError) as info:
            request_access(user, list(ids))
        assert info.value.error_dict["resource_ids"][0].startswith(line)
    with pytest.raises(tk.ValidationError) as info:
        request_access(user, [rid], message="x" * 501)
    assert info.value.error_dict["message"] == [
        "message is 501 characters long, more than the 500 allowed"]
    assert stored_requests(user) == []
    assert items_by_id(user)[rid]["access_request"] is None
    # 500 characters are fine
    assert request_access(user, [rid], message="y" * 500)["requests"]


def test_decisions_only_by_the_circles_admins(app):
    user, admin, circle, dataset, resources = item_left_behind(app)
    request = request_access(user, [resources[0]["id"]])["requests"][0]
    editor, stranger = factories.User(), factories.User()
    call_action("organization_member_create", as_user(admin),
                id=circle["id"], username=editor["name"], role="editor")
    other_admin = factories.User()
    factories.Organization(users=[{"name": other_admin["name"],
                                   "capacity": "admin"}])
    for who in (editor, stranger, other_admin, user):
        token = factories.APIToken(user=who["name"])["token"]
        for action, data in (
                ("circle_access_request_decide",
                 {"id": request["id"], "decision": "grant"}),
                ("circle_access_request_list", {"id": circle["id"]})):
            answer = app.post(f"/api/3/action/{action}", json=data,
                              headers={"Authorization": token})
            assert answer.status_code == 403, (who["name"], action)
    anonymous = app.post("/api/3/action/circle_access_request_list",
                         json={"id": circle["id"]})
    assert anonymous.status_code == 403
    assert authz.users_role_for_group_or_org(circle["id"],
                                             user["name"]) is None
    # a sysadmin may
    sysadmin = factories.Sysadmin()
    assert decide(sysadmin, request["id"], "decline")["state"] == "declined"


def test_closed_requests_and_bad_decisions_get_one_line(app):
    user, admin, circle, dataset, resources = item_left_behind(app)
    request = request_access(user, [resources[0]["id"]])["requests"][0]
    with pytest.raises(tk.ValidationError) as info:
        decide(admin, request["id"], "maybe")
    assert info.value.error_dict["decision"] == [
        "decision must be grant or decline, not 'maybe'"]
    with pytest.raises(tk.ValidationError) as info:
        decide(admin, request["id"], "decline", reason="r" * 501)
    assert "more than the 500 allowed" in info.value.error_dict["reason"][0]
    assert circle_requests(admin, circle)[0]["state"] == "open"
    decide(admin, request["id"], "decline")
    with pytest.raises(tk.ValidationError) as info:
        decide(admin, request["id"], "grant")
    assert info.value.error_dict["id"] == [
        f"access request {request['id']} is closed already: only an open "
        "request can be decided"]
    assert authz.users_role_for_group_or_org(circle["id"],
                                             user["name"]) is None
    with pytest.raises(tk.ObjectNotFound):
        decide(admin, "no-such-request", "grant")
    with pytest.raises(tk.ObjectNotFound):
        circle_requests(admin, {"id": "no-such-circle"})
