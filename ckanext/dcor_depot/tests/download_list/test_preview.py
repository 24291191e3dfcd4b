"""download_list_preview and the query add (issue 24, item 2): the
count and size of all matches the caller may read, with
resource_search's meaning (checked against CKAN's own resource_search),
what an add would add and whether it fits, and an add that adds exactly
what was previewed or says that the matches changed."""
import os

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.dcor_depot import config as dcor_config
from ckanext.dcor_depot import resource_state

from ..helpers import upload_resource
from .test_actions import add, as_user, dataset_with_files, ids_of, show

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def preview(user, query):
    return call_action("download_list_preview", as_user(user), query=query)


def test_matches_are_those_of_ckans_resource_search(app):
    names = ["cells-1.rtdc", "CELLS-2.rtdc", "50%-beads.tsv", "cels_x.rtdc",
             "notes.txt"]
    owner, circle, dataset, resources = dataset_with_files(
        app, [100, 120, 140, 160, 180], private=False, names=names)
    call_action("resource_patch", as_user(owner), id=resources[0]["id"],
                format="RTDC", hash="abcdef12")
    call_action("resource_patch", as_user(owner), id=resources[3]["id"],
                format="rtdc")
    # not stored (a link), private, and deleted files never count
    factories.Resource(package_id=dataset["id"], name="cells-link",
                       url="https://example.org/cells-link.rtdc")
    dataset_with_files(app, [999], user=owner, names=["cells-private.rtdc"])
    gone = upload_resource(app, factories.APIToken(user=owner["name"])[
        "token"], dataset["id"], os.urandom(10), name="cells-deleted.rtdc")
    call_action("resource_delete", as_user(owner), id=gone["id"])

    # query -> how many stored files resource_search finds
    queries = {"name:cells": 2, "name:CELLS": 2, "name:50%": 1,
               "name:s_x": 1, "name:%": 1, "format:rtdc": 2, "size:120": 1,
               "hash:ABC": 1, "hash:def": 0, "url:cells": 2,
               "description:nothing": 0}
    for query, count in queries.items():
        found = call_action("resource_search", query=query)["results"]
        expected = {r["id"]: r["size"] for r in found
                    if r["url_type"] in resource_state.STORED_URL_TYPES}
        assert len(expected) == count, query
        reader = factories.User()
        got = preview(reader, query)
        assert (got["count"], got["total_bytes"]) == (
            len(expected), sum(expected.values())), query
        assert got["already_on_list"] == 0 and got["fits"], query
        if expected:
            added = add(reader, query=query, digest=got["digest"])
            assert set(ids_of(added)) == set(expected), query
            again = preview(reader, query)
            assert again["already_on_list"] == len(expected)
            assert again["add_count"] == again["add_bytes"] == 0


def test_preview_counts_all_matches_and_says_what_an_add_would_do(
        app, monkeypatch, ckan_config):
    monkeypatch.setitem(ckan_config, dcor_config.DOWNLOAD_LIST_MAX_FILES, 4)
    user, circle, dataset, resources = dataset_with_files(
        app, [10, 20, 30, 40, 50, 60], private=False)
    add(user, resource_ids=[resources[0]["id"]])
    result = preview(user, "name:cells")
    assert {k: v for k, v in result.items() if k != "digest"} == {
        "query": "name:cells", "count": 6, "total_bytes": 210,
        "already_on_list": 1, "add_count": 5, "add_bytes": 200,
        "fits": False,
        "refusal": "not added: the download list holds 1 files (10 bytes) "
                   "and this would add 5 files (200 bytes), over the limit "
                   "of 4 files and 2.0 GB"}
    with pytest.raises(tk.ValidationError) as info:
        add(user, query="name:cells")
    assert info.value.error_dict["limit"] == [result["refusal"]]
    assert show(user)["count"] == 1
    # under the limit: fits, and the add adds what was previewed
    call_action("resource_delete", as_user(user), id=resources[5]["id"])
    call_action("resource_delete", as_user(user), id=resources[4]["id"])
    result = preview(user, "name:cells")
    assert (result["count"], result["add_count"], result["add_bytes"],
            result["fits"], result["refusal"]) == (4, 3, 90, True, None)
    added = add(user, query="name:cells", digest=result["digest"])
    assert added["added"] == 3 and added["count"] == 4
    assert added["total_bytes"] == 100


def test_an_add_refuses_when_the_matches_changed_since_the_preview(app):
    user, circle, dataset, resources = dataset_with_files(
        app, [10, 20], private=False)
    token = factories.APIToken(user=user["name"])["token"]
    seen = preview(user, "name:cells")
    assert seen["add_count"] == 2
    upload_resource(app, token, dataset["id"], os.urandom(30),
                    name="cells-new.rtdc")
    with pytest.raises(tk.ValidationError) as info:
        add(user, query="name:cells", digest=seen["digest"])
    assert info.value.error_dict["query"] == [
        "not added: the files matching 'name:cells' changed since the "
        "preview; now 3 files (60 bytes) would be added"]
    assert show(user)["count"] == 0
    # the list changed in between: an item removed would be added again
    seen = preview(user, "name:cells")
    add(user, query="name:cells", digest=seen["digest"])
    call_action("download_list_remove", as_user(user),
                resource_ids=[resources[0]["id"]])
    stale = seen["digest"]
    seen = preview(user, "name:cells")
    assert seen["add_count"] == 1 and seen["digest"] != stale
    with pytest.raises(tk.ValidationError):
        add(user, query="name:cells", digest=stale)
    assert add(user, query="name:cells", digest=seen["digest"])[
        "added"] == 1


@pytest.mark.parametrize("query,problem", [
    (None, "query must be a string"),
    (["name:cells"], "query must be a string"),
    ("nonsense", "not a resource_search query (Must be <field>:<value> "
                 "pair(s)): 'nonsense'"),
    ("colour:red", "not a resource_search query (Field \"colour\" not "
                   "recognised in resource_search.): 'colour:red'"),
    ("size:big", "not a resource_search query (the term does not fit the "
                 "field)"),
])
def test_bad_queries_get_one_line(app, query, problem):
    user = factories.User()
    with pytest.raises(tk.ValidationError) as info:
        preview(user, query)
    assert info.value.error_dict["query"][0].startswith(problem)
    # the session is usable after a refused query
    assert show(user)["count"] == 0


def test_bad_digest_and_empty_matches(app):
    user, circle, dataset, resources = dataset_with_files(
        app, [10], private=False)
    with pytest.raises(tk.ValidationError) as info:
        add(user, query="name:cells", digest=["x"])
    assert info.value.error_dict["digest"] == [
        "digest must be the preview's digest (text)"]
    assert preview(user, "name:nothing-like-this")["count"] == 0
    with pytest.raises(tk.ValidationError) as info:
        add(user, query="name:nothing-like-this")
    assert info.value.error_dict["query"] == [
        "no file this site stores matches 'name:nothing-like-this'"]


def test_preview_needs_a_login(app):
    answer = app.get("/api/3/action/download_list_preview",
                     query_string={"query": "name:cells"})
    assert answer.status_code == 403
