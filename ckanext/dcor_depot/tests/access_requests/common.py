"""Shared setup of the access request tests: a user whose list holds a
file of a circle they have left."""
from __future__ import annotations

import os

from ckan.tests import factories
from ckan.tests.helpers import call_action

from ..helpers import upload_resource

PASSWORD = "correct horse battery 42"


def as_user(user, ignore_auth=False):
    return {"user": user["name"], "ignore_auth": ignore_auth}


def circle_with_files(app, admin, names, private=True, members=()):
    """A circle of `admin` (plus members as (user, capacity)) with one
    dataset holding uploaded files of these names."""
    circle = factories.Organization(users=[
        {"name": admin["name"], "capacity": "admin"},
        *({"name": user["name"], "capacity": capacity}
          for user, capacity in members)])
    dataset = factories.Dataset(owner_org=circle["id"], private=private,
                                user=admin)
    token = factories.APIToken(user=admin["name"])["token"]
    resources = [upload_resource(app, token, dataset["id"],
                                 os.urandom(100 + n), name=name)
                 for n, name in enumerate(names)]
    return circle, dataset, resources


def leave(circle, user, admin):
    call_action("organization_member_delete", as_user(admin),
                id=circle["id"], username=user["name"])


def item_left_behind(app, user=None, admin=None, names=("cells.rtdc",)):
    """`user` put the circle's files on their list, then left the circle:
    the items are unreadable. Returns (user, admin, circle, dataset,
    resources)."""
    user = user or factories.User(password=PASSWORD)
    admin = admin or factories.User(password=PASSWORD)
    circle, dataset, resources = circle_with_files(
        app, admin, list(names), members=[(user, "member")])
    call_action("download_list_add", as_user(user),
                resource_ids=[r["id"] for r in resources])
    leave(circle, user, admin)
    return user, admin, circle, dataset, resources


def request_access(user, resource_ids, **data):
    return call_action("download_list_request_access", as_user(user),
                       resource_ids=resource_ids, **data)


def circle_requests(admin, circle, **data):
    return call_action("circle_access_request_list", as_user(admin),
                       id=circle["id"], **data)


def decide(admin, request_id, decision, **data):
    return call_action("circle_access_request_decide", as_user(admin),
                       id=request_id, decision=decision, **data)


def items_by_id(user):
    listing = call_action("download_list_show", as_user(user))
    return {item["resource_id"]: item for item in listing["items"]}
