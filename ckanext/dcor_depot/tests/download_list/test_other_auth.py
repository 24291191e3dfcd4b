"""Another plugin narrows package_show's auth: the download list asks
CKAN's check_access for each dataset instead of the permission labels."""
import os

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins",
                            "dcor_depot dcor_depot_test_embargo"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def test_a_chained_package_show_auth_is_obeyed(app):
    user, circle, dataset, token = make_circle_and_user(private=False)
    resource = upload_resource(app, token, dataset["id"], os.urandom(10))
    context = {"user": user["name"]}
    call_action("download_list_add", dict(context),
                resource_ids=[resource["id"]])
    assert call_action("download_list_show", dict(context))["items"][0][
        "readable"]
    # the permission labels still say "readable"; the other plugin not
    call_action("package_patch", dict(context), id=dataset["id"],
                title="Embargoed cells")
    item = call_action("download_list_show", dict(context))["items"][0]
    assert item["readable"] is False and item["resource_name"] is None
    other = factories.Dataset(owner_org=circle["id"], user=user)
    embargoed = upload_resource(app, token, other["id"], os.urandom(10))
    call_action("package_patch", dict(context), id=other["id"],
                title="Embargoed too")
    with pytest.raises(tk.NotAuthorized):
        call_action("download_list_add", dict(context),
                    resource_ids=[embargoed["id"]])


def test_a_preview_counts_only_what_the_chained_auth_lets_read(app):
    user, circle, dataset, token = make_circle_and_user(private=False)
    upload_resource(app, token, dataset["id"], os.urandom(10),
                    name="cells-open.rtdc")
    other = factories.Dataset(owner_org=circle["id"], user=user,
                              private=False)
    upload_resource(app, token, other["id"], os.urandom(20),
                    name="cells-embargoed.rtdc")
    context = {"user": user["name"]}
    assert call_action("download_list_preview", dict(context),
                       query="name:cells")["count"] == 2
    call_action("package_patch", dict(context), id=other["id"],
                title="Embargoed cells")
    seen = call_action("download_list_preview", dict(context),
                       query="name:cells")
    assert (seen["count"], seen["total_bytes"]) == (1, 10)
    added = call_action("download_list_add", dict(context),
                        query="name:cells", digest=seen["digest"])
    assert [item["resource_name"] for item in added["items"]] == [
        "cells-open.rtdc"]
