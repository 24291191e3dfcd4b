"""dcor-depot-orphans removes only what no live or restorable resource
needs (items 1 and 2 of the safety issue)."""
import datetime
import os
import time
import uuid

import pytest
import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.cli import maintenance
from ckanext.dcor_depot.storage import depot

from ..conftest import circle_bucket
from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

SYSADMIN = {"ignore_auth": True}


def orphans(cli, *args):
    result = cli.invoke(maintenance.depot_orphans,
                        ["--min-age-hours", "0", *args])
    assert result.exit_code == 0, result.output
    return result.output


def stored(app, run_worker, **dataset_fields):
    """A resource in the depot and in S3, and where its copies are."""
    user, circle, dataset, token = make_circle_and_user()
    if dataset_fields:
        dataset = factories.Dataset(owner_org=circle["id"], user=user,
                                    **dataset_fields)
    resource = upload_resource(app, token, dataset["id"], b"cells" * 100)
    run_worker()
    link = naming.resource_path(tk.config["ckan.storage_path"],
                                resource["id"])
    assert os.path.islink(link)
    return {"circle": circle, "dataset": dataset, "resource": resource,
            "file": os.path.realpath(link),
            "bucket": circle_bucket(circle["id"]),
            "key": naming.object_key("resource", resource["id"])}


def object_exists(s3_client, bucket, key):
    try:
        s3_client.head_object(Bucket=bucket, Key=key)
    except s3_client.exceptions.ClientError:
        return False
    return True


def backdate(table, row_id, days):
    """Pretend the row was deleted `days` ago: the deletion time the
    extension recorded (and, for deletions from before it kept them, the
    row's metadata_modified)."""
    when = datetime.datetime.utcnow() - datetime.timedelta(days=days)
    kind = {"package": "dataset", "resource": "resource"}[table]
    model.Session.execute(
        sa.text(f"UPDATE {table} SET metadata_modified = :when "
                "WHERE id = :id"), {"when": when, "id": row_id})
    model.Session.execute(
        sa.text("UPDATE dcor_depot_deletion SET deleted_at = :when "
                "WHERE kind = :kind AND entity_id = :id"),
        {"when": when, "kind": kind, "id": row_id})
    model.Session.commit()


def backdate_edit(table, row_id, days):
    """Only the last edit lies `days` back (CKAN's deletions leave
    metadata_modified alone)."""
    when = datetime.datetime.utcnow() - datetime.timedelta(days=days)
    model.Session.execute(
        sa.text(f"UPDATE {table} SET metadata_modified = :when "
                "WHERE id = :id"), {"when": when, "id": row_id})
    model.Session.commit()


# item 1: live depot files and objects are never orphans

def test_dataset_name_with_a_uuid(cli, app, run_worker, s3_client):
    live = stored(app, run_worker, name=f"run-{uuid.uuid4()}")
    assert live["dataset"]["name"] in os.path.basename(live["file"])
    output = orphans(cli, "--delete")
    assert "0 orphans found, 0 removed" in output
    assert os.path.isfile(live["file"])
    assert object_exists(s3_client, live["bucket"], live["key"])


def test_keys_that_are_not_ours_are_left_alone(cli, app, run_worker,
                                                s3_client):
    live = stored(app, run_worker)
    rid = live["resource"]["id"]
    foreign = ["notes.txt", "resource/abc", "backup/2024/01/dump.sql",
               "resource/ABC/DEF/GHIJKL", f"resource/{rid[:3]}/{rid[3:]}",
               f"thumbnail/{rid[:3]}/{rid[3:6]}/{rid[6:]}"]
    for key in foreign:
        s3_client.put_object(Bucket=live["bucket"], Key=key, Body=b"x")
    output = orphans(cli, "--delete")
    for key in foreign:
        assert object_exists(s3_client, live["bucket"], key), key
        assert f"not a depot key, left alone: s3://{live['bucket']}/{key}" \
            in output
    assert "0 orphans found, 0 removed" in output


def test_objects_of_a_dataset_moving_to_another_circle(cli, app, run_worker,
                                                       s3_client):
    moving = stored(app, run_worker)
    new_circle = factories.Organization()
    stray_circle = factories.Organization()
    tk.get_action("package_patch")(SYSADMIN, {
        "id": moving["dataset"]["id"], "owner_org": new_circle["id"]})
    # the move job has not copied the objects yet; a stray copy of the
    # same key sits in a third circle's bucket
    stray_bucket = circle_bucket(stray_circle["id"])
    s3_client.create_bucket(Bucket=stray_bucket)
    s3_client.put_object(Bucket=stray_bucket, Key=moving["key"], Body=b"x")
    output = orphans(cli, "--delete")
    assert object_exists(s3_client, moving["bucket"], moving["key"])
    assert f"orphan object s3://{stray_bucket}/{moving['key']}" in output
    assert not object_exists(s3_client, stray_bucket, moving["key"])
    assert "1 orphans found, 1 removed" in output


def figshare_resource(dataset_name, file_name, data):
    """A resource as the figshare import leaves it: a file in the figshare
    depot with a symlink at CKAN's path."""
    circle = factories.Organization()
    dataset = factories.Dataset(owner_org=circle["id"], name=dataset_name)
    resource = tk.get_action("resource_create")(
        {**SYSADMIN, "is_background_job": True},
        {"package_id": dataset["id"], "name": file_name, "url": file_name,
         "url_type": "upload"})
    target = naming.figshare_depot_path(
        tk.config["ckanext.dcor_depot.depots_path"], dataset_name, file_name)
    os.makedirs(os.path.dirname(target))
    with open(target, "wb") as handle:
        handle.write(data)
    depot.replace_with_symlink(
        naming.resource_path(tk.config["ckan.storage_path"], resource["id"]),
        target)
    return target


def test_figshare_depot(cli, app):
    live = figshare_resource("figshare-1-v1", "cells.rtdc", b"cells")
    folder = os.path.dirname(live)
    stray = os.path.join(folder, "renamed-since.rtdc")
    gone = os.path.join(os.path.dirname(folder), "figshare-2-v1", "old.rtdc")
    resuming = os.path.join(folder, ".big.rtdc.part")  # a download
    os.makedirs(os.path.dirname(gone))
    for path in (stray, gone, resuming):
        with open(path, "wb") as handle:
            handle.write(b"x")
    output = orphans(cli, "--delete")
    assert f"orphan file {stray}" in output
    assert f"orphan file {gone}" in output
    assert "2 orphans found, 2 removed" in output
    assert os.path.isfile(live) and os.path.isfile(resuming)
    assert not os.path.exists(stray) and not os.path.exists(gone)


# item 2: restorable data and temporary files

def test_soft_deleted_dataset_stays_for_the_grace_period(cli, app,
                                                         run_worker,
                                                         s3_client):
    deleted = stored(app, run_worker)
    tk.get_action("package_delete")(SYSADMIN,
                                    {"id": deleted["dataset"]["id"]})
    output = orphans(cli, "--delete")
    assert "0 orphans found, 0 removed" in output
    assert os.path.isfile(deleted["file"])
    assert object_exists(s3_client, deleted["bucket"], deleted["key"])

    backdate("package", deleted["dataset"]["id"], days=31)
    output = orphans(cli, "--delete")
    assert "2 orphans found, 2 removed" in output
    assert not os.path.exists(deleted["file"])
    assert not object_exists(s3_client, deleted["bucket"], deleted["key"])


def test_deleted_resource_stays_for_the_grace_period(cli, app, run_worker,
                                                     s3_client):
    deleted = stored(app, run_worker)
    tk.get_action("resource_delete")(SYSADMIN,
                                     {"id": deleted["resource"]["id"]})
    assert "0 orphans found" in orphans(cli, "--delete")
    assert os.path.isfile(deleted["file"])
    assert object_exists(s3_client, deleted["bucket"], deleted["key"])

    backdate("resource", deleted["resource"]["id"], days=29)
    assert "0 orphans found" in orphans(cli, "--delete")
    backdate("resource", deleted["resource"]["id"], days=31)
    assert "2 orphans found, 2 removed" in orphans(cli, "--delete")
    assert not os.path.exists(deleted["file"])


def test_grace_counts_from_the_deletion_not_the_last_edit(cli, app,
                                                         run_worker,
                                                         s3_client):
    """A dataset last edited 60 days ago and deleted now is restorable for
    the whole grace period (CKAN's package_delete keeps metadata_modified)."""
    deleted = stored(app, run_worker)
    backdate_edit("package", deleted["dataset"]["id"], days=60)
    backdate_edit("resource", deleted["resource"]["id"], days=60)
    tk.get_action("package_delete")(SYSADMIN,
                                    {"id": deleted["dataset"]["id"]})
    assert "0 orphans found, 0 removed" in orphans(cli, "--delete")
    assert os.path.isfile(deleted["file"])
    assert object_exists(s3_client, deleted["bucket"], deleted["key"])


def test_deleted_resource_whose_row_ckan_removed(cli, app, run_worker,
                                                 s3_client):
    """CKAN drops the rows of deleted resources at the dataset's next
    update; the recorded deletion still protects the files for the grace
    period."""
    deleted = stored(app, run_worker)
    tk.get_action("resource_delete")(SYSADMIN,
                                     {"id": deleted["resource"]["id"]})
    # an update that changes the resources purges the deleted ones
    tk.get_action("resource_create")(SYSADMIN, {
        "package_id": deleted["dataset"]["id"],
        "url": "https://example.org/more.rtdc"})
    model.Session.expire_all()
    assert model.Session.query(model.Resource).filter_by(
        id=deleted["resource"]["id"]).count() == 0
    assert "0 orphans found" in orphans(cli, "--delete")
    assert os.path.isfile(deleted["file"])
    assert object_exists(s3_client, deleted["bucket"], deleted["key"])


def test_grace_days_setting(cli, app, run_worker, ckan_config, monkeypatch):
    deleted = stored(app, run_worker)
    tk.get_action("package_delete")(SYSADMIN,
                                    {"id": deleted["dataset"]["id"]})
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.deleted_grace_days",
                        0)
    assert "2 orphans found, 2 removed" in orphans(cli, "--delete")


def test_stale_temporary_files(cli, app, run_worker):
    live = stored(app, run_worker)
    folder, name = os.path.split(live["file"])
    old = os.path.join(folder, f".{name}.part-0123456789ab")
    fresh = os.path.join(folder, f".{name}.part-ba9876543210")
    for path in (old, fresh):
        with open(path, "wb") as handle:
            handle.write(b"half a copy")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    result = cli.invoke(maintenance.depot_orphans,
                        ["--min-age-hours", "1", "--delete"])
    assert result.exit_code == 0, result.output
    assert f"stale temporary file {old}" in result.output
    assert fresh not in result.output
    assert not os.path.exists(old)
    assert os.path.isfile(fresh) and os.path.isfile(live["file"])
