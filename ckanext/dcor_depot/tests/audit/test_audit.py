"""The audit trail (issue 27, item 3): events with their actors, the
append-only table, prune, export, who reads what, paging and the storage
panel."""
import datetime
import json
import os
import re

import pytest
import sqlalchemy as sa

from ckan import model
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.dcor_depot import db
from ckanext.dcor_depot.audit import store
from ckanext.dcor_depot.workflows import records

from ..conftest import ckan_command
from ..download_list.test_pages import (PASSWORD, login, text_of,
                                        user_with_dataset)
from ..helpers import (ask_urls, make_circle_and_user, upload_directly,
                       upload_resource)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

table = db.audit_table


def events(**where):
    """(action, actor, outcome) of the rows matching, oldest first."""
    query = sa.select(table).where(
        *[table.c[column] == value for column, value in where.items()]
    ).order_by(table.c.id)
    with model.meta.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def summary(rows):
    return [(row["action"], row["actor"], row["outcome"]) for row in rows]


def api(app, token, function, status=200, **data):
    response = app.post(f"/api/3/action/{function}", json=data,
                        headers={"Authorization": token} if token else {})
    assert response.status_code == status, response.body
    return response.json


def insert(at, **values):
    row = store.event_row(values.pop("action", "test.event"),
                          actor=values.pop("actor", "cli:test"), **values)
    row["at"] = at
    with model.meta.engine.begin() as connection:
        return connection.execute(table.insert().returning(table.c.id),
                                  row).scalar()


# The table

def test_rows_are_never_updated_nor_deleted_outside_the_prune():
    rid = insert(datetime.datetime.utcnow(), resource_id="r-1")
    old = insert(datetime.datetime.utcnow() - datetime.timedelta(days=9000))
    for statement in (
            table.update().where(table.c.id == rid).values(outcome="faked"),
            table.delete().where(table.c.id == rid),
            table.delete().where(table.c.id == old),  # old, but no prune
            sa.text("TRUNCATE dcor_depot_audit")):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with model.meta.engine.begin() as connection:
                connection.execute(statement)
    # a cutoff lets only rows older than itself go
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with model.meta.engine.begin() as connection:
            connection.execute(sa.select(sa.func.set_config(
                store.PRUNE_SETTING, "2000-01-01 00:00:00", True)))
            connection.execute(table.delete().where(table.c.id == rid))
    assert [row["outcome"] for row in events(resource_id="r-1")] == ["ok"]
    assert events(id=old)


def test_prune_removes_only_expired_rows(worker_ini):
    # what earlier tests left (the database's reset keeps this table)
    assert ckan_command(worker_ini, "dcor-depot-audit", "prune"
                        ).returncode == 0
    now = datetime.datetime.utcnow()
    expired = [insert(now - datetime.timedelta(days=days), package_id="p")
               for days in (3651, 5000)]
    kept = [insert(now - datetime.timedelta(days=days), package_id="p")
            for days in (3649, 0)]
    dry = ckan_command(worker_ini, "dcor-depot-audit", "prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "2 events older than" in dry.stdout
    assert {row["id"] for row in events(package_id="p")} == \
        set(expired + kept)
    result = ckan_command(worker_ini, "dcor-depot-audit", "prune")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pruned 2 events older than" in result.stdout
    assert "(retention 3650 days)" in result.stdout
    assert [row["id"] for row in events(package_id="p")] == kept


def test_export_writes_json_lines_of_a_time_range(worker_ini, tmp_path):
    base = datetime.datetime(2026, 1, 10, 12)
    ids = [insert(base + datetime.timedelta(hours=h), package_id="x",
                  detail={"n": h}) for h in range(4)]
    out = tmp_path / "audit.jsonl"
    result = ckan_command(worker_ini, "dcor-depot-audit", "export",
                          "--since", "2026-01-10T13:00:00",
                          "--until", "2026-01-10T15:00:00Z",
                          "--output", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ids[1:3]
    assert lines[0]["at"] == "2026-01-10T13:00:00"
    assert lines[0]["detail"] == {"n": 1}
    assert "exported 2 events" in result.stderr
    bad = ckan_command(worker_ini, "dcor-depot-audit", "export",
                       "--since", "yesterday")
    assert bad.returncode != 0
    assert "--since" in bad.stderr and "not an ISO 8601" in bad.stderr
    backwards = ckan_command(worker_ini, "dcor-depot-audit", "export",
                             "--since", "2026-02-01", "--until", "2026-01-01")
    assert backwards.returncode != 0
    assert "must be later than --since" in backwards.stderr


def test_an_event_the_database_refuses_is_spooled_and_flushed():
    connection = model.meta.engine.connect()
    connection.close()  # a write on it fails
    store.record("test.spooled", actor="cli:test", resource_id="spooled-1",
                 session=connection)
    assert not events(resource_id="spooled-1")
    assert store.flush_spool() >= 1
    assert summary(events(resource_id="spooled-1")) == [
        ("test.spooled", "cli:test", "ok")]


# Events and their actors

def test_events_of_an_upload_its_visibility_and_its_downloads(
        app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    rid = upload_resource(app, token, dataset["id"], b"private cells")["id"]
    assert summary(events(resource_id=rid)) == [
        ("upload.accepted", user["id"], "ok")]
    assert events(resource_id=rid)[0]["detail"] == {"route": "upload"}
    run_worker()
    rows = events(resource_id=rid)
    assert summary(rows)[1:] == [
        ("depot.move", "job:depot-move", "ok"),
        ("object.stored", "job:depot-upload", "ok")]
    assert all(row["organization_id"] == circle["id"] and
               row["package_id"] == dataset["id"] for row in rows)
    assert rows[2]["size"] == len(b"private cells")
    # a presigned URL for the private object: recorded with the user
    answer = app.get(f"/dataset/{dataset['id']}/resource/{rid}/download",
                     headers={"Authorization": token},
                     follow_redirects=False)
    assert answer.status_code == 302
    grant = events(resource_id=rid, action="grant.presigned_get")
    assert summary(grant) == [("grant.presigned_get", user["id"], "ok")]
    # public: tagged by the visibility job, and why
    call_action("package_patch", {"user": user["name"]}, id=dataset["id"],
                private=False)
    run_worker()
    tagged = events(resource_id=rid, action="object.tagged")
    assert summary(tagged) == [("object.tagged", "job:visibility", "ok")]
    assert tagged[0]["detail"]["why"] == "dataset public"
    # a public object's URL is no grant of private bytes
    assert app.get(f"/dataset/{dataset['id']}/resource/{rid}/download",
                   headers={"Authorization": token},
                   follow_redirects=False).status_code == 302
    assert len(events(resource_id=rid, action="grant.presigned_get")) == 1
    call_action("package_delete", {"user": user["name"]}, id=dataset["id"])
    run_worker()
    untagged = events(resource_id=rid, action="object.untagged")
    assert summary(untagged) == [("object.untagged", "job:visibility", "ok")]
    assert untagged[0]["detail"]["why"] == "dataset deleted"


def test_events_of_a_direct_upload_and_a_private_archive(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    rid = upload_directly(app, token, circle["id"], dataset["id"],
                          b"direct bytes")
    rows = events(resource_id=rid)
    assert summary(rows) == [("upload.accepted", user["id"], "ok")]
    assert rows[0]["detail"] == {"route": "direct"}
    run_worker()
    assert ("depot.backup", "job:depot-backup", "ok") in \
        summary(events(resource_id=rid))
    other = upload_resource(app, token, dataset["id"], b"second file",
                            name="b.rtdc")["id"]
    run_worker()
    answer = app.get(f"/dataset/{dataset['id']}/archive?comptype=zip",
                     headers={"Authorization": token})
    assert answer.status_code == 200
    body = answer.get_data()
    granted = events(package_id=dataset["id"], action="grant.archive")
    assert sorted(row["resource_id"] for row in granted) == \
        sorted([rid, other])
    assert {row["actor"] for row in granted} == {user["id"]}
    sent = events(action="archive.sent", actor=user["id"])
    assert summary(sent) == [("archive.sent", user["id"], "ok")]
    assert sent[0]["size"] == len(body)
    assert sent[0]["detail"]["grant"] == granted[0]["detail"]["grant"]


def test_a_circle_move_and_a_command_have_their_actors(
        app, run_worker, worker_ini, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    rid = upload_resource(app, token, dataset["id"], b"moving")["id"]
    run_worker()
    other = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    call_action("package_patch", {"user": user["name"]}, id=dataset["id"],
                owner_org=other["id"])
    run_worker()
    moved = events(resource_id=rid, action="circle.move")
    assert summary(moved) == [("circle.move", "job:circle-move", "ok")]
    assert moved[0]["organization_id"] == other["id"]
    assert moved[0]["detail"]["from_bucket"] != \
        moved[0]["detail"]["to_bucket"]
    # a tag set behind the site's back: the command takes it off
    bucket = moved[0]["detail"]["to_bucket"]
    key = f"resource/{rid[:3]}/{rid[3:6]}/{rid[6:]}"
    s3_client.put_object_tagging(Bucket=bucket, Key=key, Tagging={
        "TagSet": [{"Key": "public", "Value": "true"}]})
    result = ckan_command(worker_ini, "dcor-depot-reconcile-visibility")
    assert result.returncode == 0, result.stderr[-2000:]
    untagged = events(resource_id=rid, action="object.untagged")
    assert [(row["actor"], row["detail"]["why"]) for row in untagged] == [
        ("cli:dcor-depot-reconcile-visibility", "dataset private")]


@pytest.mark.ckan_config("ckanext.dcor_depot.circle_quota_bytes", 1000)
def test_a_quota_refusal_is_recorded(app):
    user, circle, dataset, token = make_circle_and_user()
    ask_urls(app, token, circle["id"], 5000, status=409)
    refused = events(organization_id=circle["id"], action="quota.refused")
    assert summary(refused) == [("quota.refused", user["id"], "refused")]
    assert refused[0]["size"] == 5000
    assert "quota" in refused[0]["detail"]["refusal"]


# Reading

def test_who_reads_which_rows_and_paging(app):
    admin, circle, dataset, token = make_circle_and_user()
    _, other_circle, _, other_token = make_circle_and_user()
    mine = [insert(datetime.datetime.utcnow(), circle_id=circle["id"],
                   action="test.mine", detail={"n": n}) for n in range(5)]
    theirs = insert(datetime.datetime.utcnow(),
                    circle_id=other_circle["id"], action="test.mine")
    site = insert(datetime.datetime.utcnow(), action="test.mine")
    # a circle admin: only the circle's rows, newest first, page by page
    seen, cursor = [], None
    while True:
        page = api(app, token, "storage_audit_list", action="test.mine",
                   limit=2, before=cursor)["result"]
        seen += [event["id"] for event in page["events"]]
        cursor = page["next"]
        if cursor is None:
            break
        assert len(page["events"]) == 2
    assert seen == mine[::-1]
    api(app, token, "storage_audit_list", status=403,
        circle=other_circle["id"])
    # a sysadmin: everything
    sysadmin = factories.Sysadmin()
    sys_token = factories.APIToken(user=sysadmin["name"])["token"]
    every = api(app, sys_token, "storage_audit_list", action="test.mine",
                limit=1000)["result"]["events"]
    assert {e["id"] for e in every} == set(mine) | {theirs, site}
    only = api(app, sys_token, "storage_audit_list",
               circle=other_circle["name"])["result"]["events"]
    assert [e["id"] for e in only] == [theirs]
    # members who are not admins, strangers and anonymous: nothing
    member = factories.User()
    call_action("organization_member_create", {"ignore_auth": True},
                id=circle["id"], username=member["name"], role="editor")
    member_token = factories.APIToken(user=member["name"])["token"]
    for caller in (member_token, None):
        api(app, caller, "storage_audit_list", status=403)
    stranger = factories.APIToken(user=factories.User()["name"])["token"]
    api(app, stranger, "storage_audit_list", status=403)
    # bad input: one line naming the field
    for field, value in (("limit", 0), ("limit", "many"),
                         ("before", "x"), ("since", "soon")):
        body = api(app, sys_token, "storage_audit_list", status=409,
                   **{field: value})
        assert field in body["error"]
    api(app, sys_token, "storage_audit_list", status=404, circle="nowhere")


def test_the_storage_panel_shows_events_to_editors_only(app, run_worker):
    owner, dataset, resources, _ = user_with_dataset(app, [100])
    rid = resources[0]["id"]
    run_worker()
    circle_id = dataset["owner_org"]
    reader = factories.User(password=PASSWORD)
    call_action("organization_member_create", {"ignore_auth": True},
                id=circle_id, username=reader["name"], role="member")
    url = f"/dataset/{dataset['name']}/resource/{rid}"
    web = app.test_client()
    login(web, owner)
    page = text_of(web.get(url))
    assert "Last storage events" in page
    actions = re.findall(r'class="dcor-audit-action">([^<(]+)', page)
    assert [a.strip() for a in actions] == [
        "object.stored", "depot.move", "upload.accepted"]
    assert "job:depot-upload" in page
    web = app.test_client()
    login(web, reader)
    page = text_of(web.get(url))
    assert "dcor-storage-panel" in page  # a reader sees the panel ...
    assert "Last storage events" not in page  # ... but not the events
    assert "job:depot-upload" not in page


def test_a_purge_untags_and_an_archive_integrity_error_are_recorded(
        app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    rid = upload_resource(app, token, dataset["id"], b"x" * 300_000)["id"]
    run_worker()
    # a byte of the depot copy goes bad: the archive is cut, and says so
    depot_file = os.path.realpath(records.ckan_path(rid))
    os.chmod(depot_file, 0o644)
    with open(depot_file, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    try:
        app.get(f"/dataset/{dataset['id']}/archive?comptype=tar",
                headers={"Authorization": token}).get_data()
    except Exception:  # the stream is cut: the test client may raise
        pass
    error = events(resource_id=rid, action="integrity.error")
    assert summary(error) == [("integrity.error", user["id"], "failed")]
    assert error[0]["organization_id"] == circle["id"]
    assert "sha256" in error[0]["detail"]["error"]
    assert summary(events(action="archive.sent", actor=user["id"])) == [
        ("archive.sent", user["id"], "cut")]
    # public, then purged by a sysadmin: the purge takes the tag off
    call_action("package_patch", {"user": user["name"]}, id=dataset["id"],
                private=False)
    run_worker()
    sysadmin = factories.Sysadmin()
    sys_token = factories.APIToken(user=sysadmin["name"])["token"]
    api(app, sys_token, "dataset_purge", id=dataset["id"])
    untagged = events(resource_id=rid, action="object.untagged")
    assert [(row["actor"], row["detail"]["why"]) for row in untagged] == [
        (sysadmin["id"], "dataset purged")]


def test_orphans_removed_by_the_command_are_recorded(app, run_worker,
                                                     worker_ini):
    user, circle, dataset, token = make_circle_and_user()
    rid = upload_resource(app, token, dataset["id"], b"orphan-to-be")["id"]
    run_worker()
    depot_file = os.path.realpath(records.ckan_path(rid))
    call_action("dataset_purge", {"ignore_auth": True}, id=dataset["id"])
    result = ckan_command(worker_ini, "dcor-depot-orphans",
                          "--min-age-hours", "0", "--delete")
    assert result.returncode == 0, result.stderr[-2000:]
    removed = [row for row in events(action="orphan.removed")
               if rid in (row["resource_id"], )
               or row["detail"]["where"] == depot_file]
    assert sorted((row["actor"], row["detail"]["what"]) for row in removed) \
        == [("cli:dcor-depot-orphans", "orphan file"),
            ("cli:dcor-depot-orphans", "orphan object")]
