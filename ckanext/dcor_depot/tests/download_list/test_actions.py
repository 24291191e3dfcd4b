"""The download list's actions (issue 16, items 1 and 2, and the bad
input cases): storage, show, add by ids / dataset / query, limits,
readability, remove, clear, rename, and who may touch a list."""
import os

import pytest
import sqlalchemy as sa

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.dcor_depot import config as dcor_config

from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def dataset_with_files(app, sizes, private=True, user=None, names=None):
    """A dataset holding uploaded files of the given sizes (the list needs
    no worker: size is known at upload)."""
    if user is None:
        user, circle, dataset, token = make_circle_and_user(private=private)
    else:
        circle = factories.Organization(
            users=[{"name": user["name"], "capacity": "admin"}])
        dataset = factories.Dataset(owner_org=circle["id"], private=private,
                                    user=user)
        token = factories.APIToken(user=user["name"])["token"]
    names = names or [f"cells-{n}.rtdc" for n in range(len(sizes))]
    resources = [upload_resource(app, token, dataset["id"],
                                 os.urandom(size), name=name)
                 for size, name in zip(sizes, names)]
    return user, circle, dataset, resources


def as_user(user):
    return {"user": user["name"], "ignore_auth": False}


def show(user):
    return call_action("download_list_show", as_user(user))


def add(user, **data):
    return call_action("download_list_add", as_user(user), **data)


def ids_of(listing):
    return [item["resource_id"] for item in listing["items"]]


def test_empty_list_and_its_limits():
    user = factories.User()
    listing = show(user)
    assert listing == {"name": "download", "items": [], "count": 0,
                       "total_bytes": 0, "max_files": 100,
                       "max_bytes": 2_000_000_000}


def test_add_resources_dataset_and_query_show_every_field(app):
    user, circle, dataset, resources = dataset_with_files(
        app, [1000, 2000], names=["a.rtdc", "b.rtdc"])
    _, _, other, others = dataset_with_files(
        app, [300, 400, 500], user=user,
        names=["x.rtdc", "y.tsv", "z.tsv"])
    # a single file of another dataset
    result = add(user, resource_ids=[others[0]["id"]])
    assert result["added"] == 1 and result["count"] == 1
    # a whole dataset (its files, not recursive)
    result = add(user, dataset_id=dataset["name"])
    assert result["added"] == 2
    listing = show(user)
    assert ids_of(listing) == [others[0]["id"], resources[0]["id"],
                               resources[1]["id"]]
    assert listing["count"] == 3 and listing["total_bytes"] == 3300
    first = listing["items"][1]
    assert first == {"resource_id": resources[0]["id"],
                     "resource_name": "a.rtdc", "dataset_id": dataset["id"],
                     "dataset_name": dataset["name"],
                     "dataset_title": dataset["title"], "size": 1000,
                     "sha256": None, "readable": True}


def test_add_by_query_uses_resource_search_without_solr(app):
    user, circle, dataset, resources = dataset_with_files(
        app, [100, 200, 300], private=False,
        names=["cells-1.rtdc", "cells-2.rtdc", "notes.txt"])
    result = add(user, query="name:cells")
    assert sorted(ids_of(result)) == sorted(
        r["id"] for r in resources[:2])
    # the same query again adds nothing: duplicates are ignored
    assert add(user, query="name:cells")["added"] == 0
    assert add(user, query="name:notes")["count"] == 3


def test_duplicates_are_ignored(app):
    user, circle, dataset, resources = dataset_with_files(app, [10, 20])
    rid = resources[0]["id"]
    assert add(user, resource_ids=[rid, rid])["added"] == 1
    assert add(user, resource_ids=[rid])["added"] == 0
    result = add(user, dataset_id=dataset["id"])
    assert result["added"] == 1 and result["count"] == 2
    assert result["total_bytes"] == 30


def test_batch_over_file_limit_is_refused_whole(app, monkeypatch,
                                               ckan_config):
    monkeypatch.setitem(ckan_config, dcor_config.DOWNLOAD_LIST_MAX_FILES, 3)
    user, circle, dataset, resources = dataset_with_files(app, [10] * 4)
    add(user, resource_ids=[r["id"] for r in resources[:2]])
    with pytest.raises(tk.ValidationError) as info:
        add(user, dataset_id=dataset["id"])  # 2 new of 4
    message = info.value.error_dict["limit"][0]
    assert message == ("not added: the download list holds 2 files "
                       "(20 bytes) and this would add 2 files (20 bytes), "
                       "over the limit of 3 files and 2.0 GB")
    assert ids_of(show(user)) == [r["id"] for r in resources[:2]]
    # one more still fits
    assert add(user, resource_ids=[resources[2]["id"]])["count"] == 3


def test_batch_over_byte_limit_is_refused_whole(app, monkeypatch,
                                               ckan_config):
    monkeypatch.setitem(ckan_config, dcor_config.DOWNLOAD_LIST_MAX_BYTES,
                        2500)
    user, circle, dataset, resources = dataset_with_files(
        app, [1000, 1000, 1000])
    add(user, resource_ids=[resources[0]["id"]])
    with pytest.raises(tk.ValidationError) as info:
        add(user, resource_ids=[resources[1]["id"], resources[2]["id"]])
    message = info.value.error_dict["limit"][0]
    assert "holds 1 files (1.0 kB)" in message
    assert "would add 2 files (2.0 kB)" in message
    assert "limit of 100 files and 2.5 kB" in message and "\n" not in message
    assert show(user)["count"] == 1


def test_query_over_the_limit_is_refused(app, monkeypatch, ckan_config):
    monkeypatch.setitem(ckan_config, dcor_config.DOWNLOAD_LIST_MAX_FILES, 2)
    user, circle, dataset, resources = dataset_with_files(
        app, [10, 10, 10], private=False)
    with pytest.raises(tk.ValidationError) as info:
        add(user, query="name:cells")
    assert "would add 3 files" in info.value.error_dict["limit"][0]
    assert show(user)["count"] == 0


def test_unreadable_resources_are_refused_without_names_or_sizes(app):
    owner, circle, dataset, resources = dataset_with_files(
        app, [12345], names=["secret-name.rtdc"])
    stranger = factories.User()
    mine = dataset_with_files(app, [10], user=stranger)[3]
    for data in ({"resource_ids": [mine[0]["id"], resources[0]["id"]]},
                 {"dataset_id": dataset["id"]}):
        with pytest.raises(tk.NotAuthorized) as info:
            add(stranger, **data)
        message = str(info.value)
        assert "secret-name" not in message and "12345" not in message
        assert "\n" not in message
    assert show(stranger)["count"] == 0
    # a query never finds files of private datasets
    with pytest.raises(tk.ValidationError):
        add(stranger, query="name:secret-name")


def test_unknown_ids_are_refused_and_nothing_added(app):
    user, circle, dataset, resources = dataset_with_files(app, [10])
    with pytest.raises(tk.ObjectNotFound) as info:
        add(user, resource_ids=[resources[0]["id"], "no-such-resource"])
    assert str(info.value) == "no such resource: no-such-resource"
    with pytest.raises(tk.ObjectNotFound) as info:
        add(user, dataset_id="no-such-dataset")
    assert str(info.value) == "no such dataset: no-such-dataset"
    with pytest.raises(tk.ValidationError) as info:
        call_action("download_list_remove", as_user(user),
                    resource_ids=["no-such-resource"])
    assert "not on your download list: no-such-resource" in \
        info.value.error_dict["resource_ids"][0]
    assert show(user)["count"] == 0


@pytest.mark.parametrize("data,key,problem", [
    ({"query": ["format:rtdc"]}, "query", "must be a string"),
    ({"query": 7}, "query", "must be a string"),
    ({"query": "nonsense"}, "query", "not a resource_search query"),
    ({"resource_ids": "x", "dataset_id": "y"}, "resource_ids",
     "exactly one"),
    ({}, "resource_ids", "exactly one"),
    ({"resource_ids": [1, 2]}, "resource_ids", "non-empty list"),
    ({"dataset_id": ["a"]}, "dataset_id", "dataset id or name"),
])
def test_bad_add_input(app, data, key, problem):
    user, circle, dataset, resources = dataset_with_files(app, [10])
    add(user, resource_ids=[resources[0]["id"]])
    with pytest.raises(tk.ValidationError) as info:
        add(user, **data)
    message = info.value.error_dict[key][0]
    assert problem in message and "\n" not in message
    assert ids_of(show(user)) == [resources[0]["id"]]


def test_links_are_not_files(app):
    user, circle, dataset, token = make_circle_and_user()
    link = factories.Resource(package_id=dataset["id"],
                              url="https://example.org/data.rtdc")
    with pytest.raises(tk.ValidationError) as info:
        add(user, resource_ids=[link["id"]])
    assert "is a link" in info.value.error_dict["resource_ids"][0]
    with pytest.raises(tk.ValidationError):
        add(user, dataset_id=dataset["id"])
    assert show(user)["count"] == 0


def test_item_of_a_dataset_made_private_stays_without_metadata(app):
    owner, circle, dataset, resources = dataset_with_files(
        app, [111, 222], private=False, names=["p.rtdc", "q.rtdc"])
    reader = factories.User()
    add(reader, dataset_id=dataset["id"])
    call_action("package_patch", {"user": owner["name"]},
                id=dataset["id"], private=True)
    listing = show(reader)
    assert listing["count"] == 2 and listing["total_bytes"] == 0
    for item, resource in zip(listing["items"], resources):
        assert item == {"resource_id": resource["id"], "resource_name": None,
                        "dataset_id": None, "dataset_name": None,
                        "size": None, "sha256": None, "readable": False,
                        "access_request": None,
                        "access_request_reason": None}
    # it is readable again once public
    call_action("package_patch", {"user": owner["name"]},
                id=dataset["id"], private=False)
    assert all(item["readable"] for item in show(reader)["items"])


def test_member_removed_from_circle_keeps_unreadable_items(app):
    owner, circle, dataset, resources = dataset_with_files(app, [5])
    member = factories.User()
    call_action("organization_member_create", {"user": owner["name"]},
                id=circle["id"], username=member["name"], role="member")
    add(member, resource_ids=[resources[0]["id"]])
    assert show(member)["items"][0]["readable"]
    call_action("organization_member_delete", {"user": owner["name"]},
                id=circle["id"], username=member["name"])
    item = show(member)["items"][0]
    assert item["readable"] is False and item["resource_name"] is None


def test_deleted_resources_drop_off(app):
    user, circle, dataset, resources = dataset_with_files(app, [10, 20, 30])
    _, _, other, others = dataset_with_files(app, [40], user=user)
    add(user, dataset_id=dataset["id"])
    add(user, resource_ids=[others[0]["id"]])
    call_action("resource_delete", {"user": user["name"]},
                id=resources[1]["id"])
    call_action("package_delete", {"user": user["name"]}, id=other["id"])
    listing = show(user)
    assert ids_of(listing) == [resources[0]["id"], resources[2]["id"]]
    assert listing["total_bytes"] == 40


def test_remove_clear_and_rename(app):
    user, circle, dataset, resources = dataset_with_files(app, [1, 2, 3])
    add(user, dataset_id=dataset["id"])
    result = call_action("download_list_remove", as_user(user),
                         resource_ids=[resources[1]["id"]])
    assert ids_of(result) == [resources[0]["id"], resources[2]["id"]]
    result = call_action("download_list_rename", as_user(user),
                         name="my cells.zip")
    assert result["name"] == "my cells"
    result = call_action("download_list_clear", as_user(user))
    assert result["count"] == 0 and result["name"] == "my cells"


@pytest.mark.parametrize("name,problem", [
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    (None, "must not be empty"),
    ("../etc/passwd", "not a safe archive name"),
    ("a/b", "not a safe archive name"),
    ("x" * 101, "not a safe archive name"),
    ("nul\x00byte", "not a safe archive name"),
])
def test_empty_or_unsafe_name_is_refused(name, problem):
    user = factories.User()
    call_action("download_list_rename", as_user(user), name="kept")
    with pytest.raises(tk.ValidationError) as info:
        call_action("download_list_rename", as_user(user), name=name)
    message = info.value.error_dict["name"][0]
    assert problem in message and "\n" not in message
    assert show(user)["name"] == "kept"


def test_lists_are_per_user_and_anonymous_gets_403(app):
    user, circle, dataset, resources = dataset_with_files(app, [10])
    other = factories.User()
    add(user, resource_ids=[resources[0]["id"]])
    assert show(other)["count"] == 0
    for action in ("download_list_show", "download_list_clear"):
        with pytest.raises(tk.NotAuthorized) as info:
            call_action(action, as_user(other), user=user["name"])
        assert "only their own download list" in str(info.value)
    with pytest.raises(tk.NotAuthorized):
        call_action("download_list_rename", as_user(other),
                    user=user["id"], name="stolen")
    assert show(user)["count"] == 1 and show(user)["name"] == "download"
    # naming yourself is fine
    assert call_action("download_list_show", as_user(user),
                       user=user["name"])["count"] == 1
    for action in ("download_list_show", "download_list_add",
                   "download_list_clear"):
        answer = app.post(f"/api/3/action/{action}", json={})
        assert answer.status_code == 403, action
    token = factories.APIToken(user=user["name"])["token"]
    answer = app.get("/api/3/action/download_list_show",
                     headers={"Authorization": token})
    assert answer.json["result"]["count"] == 1


def test_list_is_committed_to_postgresql(app):
    """Another connection (as after a restart) sees the list."""
    user, circle, dataset, resources = dataset_with_files(app, [10])
    add(user, resource_ids=[resources[0]["id"]])
    call_action("download_list_rename", as_user(user), name="kept")
    model.Session.remove()
    engine = sa.create_engine(tk.config["sqlalchemy.url"])
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT user_id, resource_id, added_at FROM "
            "dcor_depot_download_list_item WHERE user_id = :user"),
            {"user": user["id"]}).all()
        names = connection.execute(sa.text(
            "SELECT user_id, name FROM dcor_depot_download_list "
            "WHERE user_id = :user"), {"user": user["id"]}).all()
    engine.dispose()
    assert [(r.user_id, r.resource_id) for r in rows] == \
        [(user["id"], resources[0]["id"])]
    assert rows[0].added_at is not None
    assert names == [(user["id"], "kept")]


def test_limits_are_declared_and_checked_at_startup(ckan_config,
                                                    monkeypatch):
    from ckan.config.declaration import Declaration, Key
    from ckan.exceptions import CkanConfigurationException

    declaration = Declaration()
    declaration.load_plugin("dcor_depot")
    for key, default in ((dcor_config.DOWNLOAD_LIST_MAX_FILES, 100),
                         (dcor_config.DOWNLOAD_LIST_MAX_BYTES,
                          2_000_000_000)):
        option = declaration[Key.from_string(key)]
        assert option.normalize(option.default) == default
    for key, value in ((dcor_config.DOWNLOAD_LIST_MAX_FILES, "0"),
                       (dcor_config.DOWNLOAD_LIST_MAX_FILES, "many"),
                       (dcor_config.DOWNLOAD_LIST_MAX_BYTES, "-1")):
        monkeypatch.setitem(ckan_config, key, value)
        with pytest.raises(CkanConfigurationException) as info:
            dcor_config.check_config(ckan_config)
        assert key in str(info.value) and "\n" not in str(info.value)
        monkeypatch.undo()


def test_concurrent_batches_respect_the_limit(app, monkeypatch,
                                              ckan_config):
    """Two adds at once: the list row lock makes the second see the
    first, so together they cannot pass the limit."""
    import threading

    monkeypatch.setitem(ckan_config, dcor_config.DOWNLOAD_LIST_MAX_FILES, 3)
    user, circle, dataset, resources = dataset_with_files(app, [1] * 4)
    token = factories.APIToken(user=user["name"])["token"]
    model.Session.remove()
    answers = []

    def post(ids):
        answers.append(app.post("/api/3/action/download_list_add",
                                json={"resource_ids": ids},
                                headers={"Authorization": token}))
    batches = [[r["id"] for r in resources[:2]],
               [r["id"] for r in resources[2:]]]
    threads = [threading.Thread(target=post, args=(ids,))
               for ids in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert show(user)["count"] == 2


def test_query_of_files_already_on_a_full_list_adds_nothing(
        app, monkeypatch, ckan_config):
    monkeypatch.setitem(ckan_config, dcor_config.DOWNLOAD_LIST_MAX_FILES, 2)
    user, circle, dataset, resources = dataset_with_files(
        app, [10, 10], private=False)
    add(user, dataset_id=dataset["id"])
    result = add(user, query="name:cells")
    assert result["added"] == 0 and result["count"] == 2
