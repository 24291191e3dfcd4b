"""`ckan dcor-depot-fixity` on the real stack (issue 27, items 1 and 2):
damaged copies found and repaired from the verified twin, both bad marked
and refused, SIGKILL during a repair, the byte budget, bad options."""
import datetime
import hashlib
import os

import pytest
import requests

from ckan import model

from ckanext.dcor_depot import db, naming
from ckanext.dcor_depot.cli import fixity as fixity_cli
from ckanext.dcor_depot.fixity import rules, store
from ckanext.dcor_depot.workflows import fixity, records

from ..conftest import circle_bucket, ckan_command
from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def stored_resource(app, run_worker, private=True, size=200_000, seed=0,
                    dataset=None, token=None):
    """A resource with its verified depot file and its object."""
    if dataset is None:
        _, _, dataset, token = make_circle_and_user(private=private)
    data = hashlib.sha256(str(seed).encode()).digest() * (size // 32)
    resource = upload_resource(app, token, dataset["id"], data)
    run_worker()
    shown = records.show_resource(resource["id"])
    assert shown["s3_available"] and shown["sha256"] == \
        hashlib.sha256(data).hexdigest()
    return dataset, shown, data, token


def depot_file(rid):
    path = records.ckan_path(rid)
    assert os.path.islink(path)
    return os.path.realpath(path)


def location(dataset, rid):
    return circle_bucket(dataset["owner_org"]), \
        naming.object_key("resource", rid)


def flip_byte(path, offset=1000):
    """Damage one byte in place (the inode stays)."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def damage_object(s3_client, bucket, key, data):
    """Other bytes at the key, with the tags the object had."""
    tags = s3_client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    s3_client.put_object(Bucket=bucket, Key=key,
                         Body=data[:500] + b"X" + data[501:],
                         Tagging="&".join(f"{t['Key']}={t['Value']}"
                                          for t in tags))


def object_bytes(s3_client, bucket, key):
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


def object_tags(s3_client, bucket, key):
    return {t["Key"]: t["Value"] for t in s3_client.get_object_tagging(
        Bucket=bucket, Key=key).get("TagSet", [])}


def run(cli, *args, code=0):
    result = cli.invoke(fixity_cli.depot_fixity, list(args))
    assert result.exit_code == code, result.output
    return result.output


def leftovers(s3_client, dataset, rid):
    """Temporary files and keys a repair of the resource left."""
    target = depot_file(rid)
    folder, name = os.path.split(target)
    files = [n for n in os.listdir(folder) if n.startswith(f".{name}")]
    bucket = circle_bucket(dataset["owner_org"])
    keys = [o["Key"] for o in s3_client.list_objects_v2(
        Bucket=bucket, Prefix="fixity/").get("Contents", [])]
    uploads = s3_client.list_multipart_uploads(Bucket=bucket).get(
        "Uploads", [])
    return files + keys + [u["Key"] for u in uploads]


def audit_events(rid):
    """(action, actor, outcome, detail) of the resource's audit rows."""
    table = db.audit_table
    with model.meta.engine.connect() as connection:
        rows = connection.execute(
            table.select().where(table.c.resource_id == rid,
                                 table.c.action.in_([
                                     rules.AUDIT_MISMATCH,
                                     rules.AUDIT_REPAIR,
                                     rules.AUDIT_CLEARED,
                                     "integrity.error"]))
            .order_by(table.c.id)).all()
    return [(row.action, row.actor, row.outcome, row.detail) for row in rows]


def test_a_damaged_depot_copy_is_repaired_from_the_object(
        app, cli, run_worker, s3_client):
    dataset, resource, data, _ = stored_resource(app, run_worker)
    rid = resource["id"]
    target = depot_file(rid)
    first = run(cli)
    assert "verified 2, mismatched 0, repaired 0, missing 0" in first
    flip_byte(target)
    inode = os.stat(target).st_ino

    output = run(cli, "--resource", rid)
    assert "verified 1, mismatched 1, repaired 1, missing 0" in output
    assert open(target, "rb").read() == data
    assert os.stat(target).st_ino != inode  # replaced by a rename
    assert os.path.realpath(records.ckan_path(rid)) == target
    copies = store.copy_records(rid)
    assert copies["depot"]["result"] == rules.REPAIRED
    assert copies["object"]["result"] == rules.OK
    assert not leftovers(s3_client, dataset, rid)
    events = audit_events(rid)
    assert [event[:3] for event in events] == [
        (rules.AUDIT_MISMATCH, "cli:dcor-depot-fixity", "failed"),
        (rules.AUDIT_REPAIR, "cli:dcor-depot-fixity", "ok")]
    assert events[0][3]["copy"] == "depot" and \
        events[0][3]["found"] == "mismatch"
    assert events[1][3] == {"copy": "depot", "from": "object"}
    again = run(cli, "--resource", rid)
    assert "verified 2, mismatched 0, repaired 0" in again
    assert len(audit_events(rid)) == 2


@pytest.mark.parametrize("private", [True, False])
def test_a_damaged_object_is_repaired_keeping_tags_and_visibility(
        app, cli, run_worker, s3_client, private):
    dataset, resource, data, _ = stored_resource(app, run_worker,
                                                 private=private)
    rid = resource["id"]
    bucket, key = location(dataset, rid)
    s3_client.put_object_tagging(Bucket=bucket, Key=key, Tagging={
        "TagSet": [{"Key": k, "Value": v} for k, v in {
            **object_tags(s3_client, bucket, key), "kept": "yes"}.items()]})
    tags = object_tags(s3_client, bucket, key)
    assert (tags.get("public") == "true") is not private
    damage_object(s3_client, bucket, key, data)
    assert object_tags(s3_client, bucket, key) == tags

    output = run(cli, "--dataset", dataset["name"])
    assert "verified 1, mismatched 1, repaired 1, missing 0" in output
    assert object_bytes(s3_client, bucket, key) == data
    assert object_tags(s3_client, bucket, key) == tags
    anonymous = requests.get(resource["s3_url"], timeout=30)
    assert anonymous.status_code == (403 if private else 200)
    assert store.copy_records(rid)["object"]["result"] == rules.REPAIRED
    assert not leftovers(s3_client, dataset, rid)
    assert [(action, detail["copy"]) for action, _, _, detail
            in audit_events(rid)] == [(rules.AUDIT_MISMATCH, "object"),
                                      (rules.AUDIT_REPAIR, "object")]


def test_both_bad_marks_refuses_and_a_restored_copy_clears(
        app, cli, run_worker, s3_client, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.metrics_token",
                        "fixity-metrics-token")
    dataset, resource, data, token = stored_resource(app, run_worker)
    rid = resource["id"]
    target = depot_file(rid)
    bucket, key = location(dataset, rid)
    flip_byte(target)
    damage_object(s3_client, bucket, key, data)
    damaged_depot = open(target, "rb").read()
    damaged_object = object_bytes(s3_client, bucket, key)
    inode = os.stat(target).st_ino

    output = run(cli, code=1)
    assert "verified 0, mismatched 2, repaired 0, missing 0" in output
    assert "integrity failed 1" in output
    assert f"{rid}: integrity: failed" in output
    # nothing replaced, nothing deleted
    assert os.stat(target).st_ino == inode
    assert open(target, "rb").read() == damaged_depot
    assert object_bytes(s3_client, bucket, key) == damaged_object
    assert store.failure(rid) is not None
    assert [event[:3] for event in audit_events(rid)] == [
        (rules.AUDIT_MISMATCH, rules.AUDIT_ACTOR, "failed"),
        (rules.AUDIT_MISMATCH, rules.AUDIT_ACTOR, "failed"),
        ("integrity.error", rules.AUDIT_ACTOR, "failed")]

    headers = {"Authorization": token}
    download = app.get(f"/dataset/{dataset['id']}/resource/{rid}/download",
                       headers=headers, follow_redirects=False)
    assert download.status_code == 409
    assert download.get_data(as_text=True) == rules.refusal(rid) + "\n"
    for query in ("", "?layout=bagit"):
        archive = app.get(f"/dataset/{dataset['id']}/archive{query}",
                          headers=headers)
        assert archive.status_code == 409
        assert archive.get_data(as_text=True).strip() == rules.refusal(rid)
    page = app.get(f"/dataset/{dataset['id']}/resource/{rid}",
                   headers=headers)
    assert "integrity: failed" in page.get_data(as_text=True)
    metrics = app.get("/metrics", headers={
        "Authorization": "Bearer fixity-metrics-token"}).get_data(
        as_text=True)
    assert "dcor_depot_resources_integrity_failed 1.0" in metrics

    # the operator puts a good depot file back
    with open(target, "wb") as handle:
        handle.write(data)
    output = run(cli, "--resource", rid)
    assert "verified 1, mismatched 1, repaired 1" in output
    assert "integrity mark cleared" in output
    assert store.failure(rid) is None
    assert [event[0] for event in audit_events(rid)][3:] == [
        rules.AUDIT_MISMATCH, rules.AUDIT_REPAIR, rules.AUDIT_CLEARED]
    assert object_bytes(s3_client, bucket, key) == data
    download = app.get(f"/dataset/{dataset['id']}/resource/{rid}/download",
                       headers=headers, follow_redirects=False)
    assert download.status_code == 302
    page = app.get(f"/dataset/{dataset['id']}/resource/{rid}",
                   headers=headers)
    assert "integrity: failed" not in page.get_data(as_text=True)


@pytest.mark.parametrize("point", ["depot-temp-written", "depot-replaced"])
def test_sigkill_during_a_depot_repair(app, cli, run_worker, s3_client,
                                       worker_ini, point):
    dataset, resource, data, _ = stored_resource(app, run_worker)
    rid = resource["id"]
    target = depot_file(rid)
    bucket, key = location(dataset, rid)
    flip_byte(target)
    damaged = open(target, "rb").read()
    inode = os.stat(target).st_ino

    killed = ckan_command(worker_ini, "dcor-depot-fixity", "--resource", rid,
                          env={**os.environ, fixity.KILL_AT_ENV: point})
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert object_bytes(s3_client, bucket, key) == data  # the twin is intact
    if point == "depot-temp-written":
        # the verified replacement waits beside it; the file is unchanged
        assert os.stat(target).st_ino == inode
        assert open(target, "rb").read() == damaged
        assert leftovers(s3_client, dataset, rid)
    else:
        assert os.stat(target).st_ino != inode
        assert open(target, "rb").read() == data

    output = run(cli, "--resource", rid)
    assert "mismatched 0" in output or "repaired 1" in output
    assert open(target, "rb").read() == data
    assert object_bytes(s3_client, bucket, key) == data
    assert not leftovers(s3_client, dataset, rid)
    assert "verified 2, mismatched 0" in run(cli, "--resource", rid)


@pytest.mark.parametrize("point", ["object-temp-uploaded", "object-copied",
                                   "object-tagged"])
@pytest.mark.parametrize("private", [True, False])
def test_sigkill_during_an_object_repair(app, cli, run_worker, s3_client,
                                         worker_ini, point, private):
    dataset, resource, data, _ = stored_resource(app, run_worker,
                                                 private=private)
    rid = resource["id"]
    target = depot_file(rid)
    bucket, key = location(dataset, rid)
    tags = object_tags(s3_client, bucket, key)
    damage_object(s3_client, bucket, key, data)

    killed = ckan_command(worker_ini, "dcor-depot-fixity", "--resource", rid,
                          env={**os.environ, fixity.KILL_AT_ENV: point})
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert open(target, "rb").read() == data  # the twin is intact
    # whatever the object holds now, a private dataset's is not readable
    if private:
        assert requests.get(resource["s3_url"], timeout=30).status_code == 403

    run(cli, "--resource", rid)
    assert object_bytes(s3_client, bucket, key) == data
    assert object_tags(s3_client, bucket, key) == tags
    assert requests.get(resource["s3_url"], timeout=30).status_code == \
        (403 if private else 200)
    assert open(target, "rb").read() == data
    assert not leftovers(s3_client, dataset, rid)
    assert "verified 2, mismatched 0" in run(cli, "--resource", rid)


def _set_checked(rid, when):
    for copy in rules.COPIES:
        store.record(rid, copy, rules.OK, when)


def test_byte_budget_takes_the_oldest_verified_first(app, cli, run_worker,
                                                     s3_client):
    dataset, first, _, token = stored_resource(app, run_worker, seed=1)
    sizes = {}
    resources = [first]
    for seed in (2, 3):
        resources.append(stored_resource(app, run_worker, seed=seed,
                                         dataset=dataset, token=token)[1])
    now = datetime.datetime.utcnow()
    # read 200, 10 and 100 days ago: the order is resources[0], [2], [1]
    ages = {resources[0]["id"]: 200, resources[1]["id"]: 10,
            resources[2]["id"]: 100}
    for rid, days in ages.items():
        _set_checked(rid, now - datetime.timedelta(days=days))
        sizes[rid] = records.show_resource(rid)["size"]
    before = {rid: store.copy_records(rid) for rid in ages}
    oldest_two = [resources[0]["id"], resources[2]["id"]]
    budget = 2 * sum(sizes[rid] for rid in oldest_two)

    dry = run(cli, "--max-bytes", str(budget), "--dry-run")
    assert [line.split()[2] for line in dry.splitlines()
            if line.startswith("would read ")] == oldest_two
    assert {rid: store.copy_records(rid) for rid in ages} == before
    assert "behind the window of 90 days: 4 of 6 copies" in dry

    output = run(cli, "--max-bytes", str(budget))
    assert "verified 4, mismatched 0" in output
    assert "budget reached" in output
    after = {rid: store.copy_records(rid) for rid in ages}
    for rid in oldest_two:
        assert after[rid]["depot"]["checked_at"] > now
        assert after[rid]["object"]["checked_at"] > now
    assert after[resources[1]["id"]] == before[resources[1]["id"]]
    assert "within the window" in output

    # a budget smaller than one resource reads nothing, and says so
    small = run(cli, "--max-bytes", "1000")
    assert "verified 0" in small and "skipped 3" in small


@pytest.mark.parametrize("args,message", [
    (["--max-bytes", "lots"], "not a byte count: 'lots'"),
    (["--max-bytes", "0"], "at least 1"),
    (["--max-rate", "0"], "--max-rate"),
    (["--max-rate", "fast"], "--max-rate"),
    (["--resource", "3c3b0a4e-0000-4000-8000-000000000000"],
     "no such resource: 3c3b0a4e-0000-4000-8000-000000000000"),
    (["--dataset", "no-such-dataset"], "no such dataset: no-such-dataset"),
    (["--circle", "no-such-circle"], "no such circle: no-such-circle"),
])
def test_bad_options_give_one_line_and_change_nothing(cli, args, message):
    result = cli.invoke(fixity_cli.depot_fixity, args)
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines()
              if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    with model.meta.engine.connect() as connection:
        assert not connection.execute(
            db.fixity_copy_table.select()).first()


def test_a_resource_another_run_checks_now_is_skipped(app, cli, run_worker,
                                                       s3_client):
    """Two runs at once (two cron lines, or an operator's --resource during
    the nightly run) would remove each other's temporary copies: the
    second leaves a resource the first holds alone."""
    dataset, resource, data, _ = stored_resource(app, run_worker)
    rid = resource["id"]
    target = depot_file(rid)
    flip_byte(target)
    inode = os.stat(target).st_ino
    with db.advisory_lock(fixity.lock_name(rid)) as taken:
        assert taken
        output = run(cli, "--resource", rid)
    assert f"{rid}: skipped, checked by another run at this moment" in output
    assert os.stat(target).st_ino == inode  # nothing repaired meanwhile
    assert store.copy_records(rid) == {}
    assert "repaired 1" in run(cli, "--resource", rid)
    assert open(target, "rb").read() == data
