"""Migration of legacy block storage into the object store."""
import hashlib
import os
import re

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.storage import s3
from ckanext.dcor_depot.cli import migrate as migrate_cli

from ..conftest import circle_bucket, ckan_command, start_ckan
from ..helpers import (files_below, make_circle_and_user, parts_in_flight,
                      upload_resource)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def legacy_site(app, dcor_paths):
    """Uploads that no job ever handled: plain files at CKAN's path, no S3
    fields, in public, private and draft datasets of two circles."""
    site = []
    for circle_no in range(2):
        user, circle, public, token = make_circle_and_user(private=False)
        private = factories.Dataset(owner_org=circle["id"], private=True,
                                    user=user)
        draft = factories.Dataset(owner_org=circle["id"], private=False,
                                  state="draft", user=user)
        for dataset, visible in ((public, True), (private, False),
                                 (draft, False)):
            data = os.urandom(1000 + 10 * len(site))
            resource = upload_resource(app, token, dataset["id"], data)
            site.append((circle, resource, data, visible))
    # one resource has a condensed and a preview file beside it
    circle, resource, data, visible = site[0]
    base = naming.resource_path(str(dcor_paths["storage_path"]),
                                resource["id"])
    with open(base + "_condensed.rtdc", "wb") as handle:
        handle.write(b"condensed")
    with open(base + "_preview.jpg", "wb") as handle:
        handle.write(b"preview")
    return site


def migrate(cli, *args):
    return cli.invoke(migrate_cli.migrate_resources, list(args))


def test_migration_of_a_legacy_site(cli, app, s3_client, dcor_paths):
    site = legacy_site(app, dcor_paths)
    dry = migrate(cli, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would migrate 6, skipped 0, failed 0" in dry.output
    assert not any(b["Name"].endswith(site[0][0]["id"])
                   for b in s3_client.list_buckets()["Buckets"])

    result = migrate(cli, "--jobs", "3")
    assert result.exit_code == 0, result.output
    assert "migrated 6, skipped 0, failed 0" in result.output
    for circle, resource, data, visible in site:
        shown = tk.get_action("resource_show")({"ignore_auth": True},
                                               {"id": resource["id"]})
        assert shown["sha256"] == hashlib.sha256(data).hexdigest()
        assert shown["s3_available"] and shown["size"] == len(data)
        response = requests.get(shown["s3_url"], timeout=10)
        assert response.status_code == (200 if visible else 403)
        if visible:
            assert response.content == data
    bucket = circle_bucket(site[0][0]['id'])
    for artifact, body in (("condensed", b"condensed"),
                           ("preview", b"preview")):
        key = naming.object_key(artifact, site[0][1]["id"])
        assert s3_client.get_object(Bucket=bucket, Key=key)[
            "Body"].read() == body

    again = migrate(cli)
    assert "migrated 0, skipped 6, failed 0, 0 bytes sent" in again.output
    checked = migrate(cli, "--verify-existence", "--jobs", "2")
    assert "migrated 0, skipped 6, failed 0, 0 bytes sent" in checked.output


def test_verify_checksum_repairs_a_damaged_object(cli, app, s3_client,
                                                  dcor_paths):
    site = legacy_site(app, dcor_paths)
    assert migrate(cli).exit_code == 0
    circle, resource, data, visible = site[1]
    bucket = circle_bucket(circle['id'])
    key = naming.object_key("resource", resource["id"])
    s3_client.put_object(Bucket=bucket, Key=key, Body=b"rotten" + data[6:])

    plain = migrate(cli)  # trusts earlier runs, transfers nothing
    assert "0 bytes sent" in plain.output
    result = migrate(cli, "--verify-checksum")
    assert result.exit_code == 0, result.output
    assert "migrated 1, skipped 5, failed 0" in result.output
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == data


def test_delete_after_migration_only_removes_verified(cli, app, s3_client,
                                                     dcor_paths):
    site = legacy_site(app, dcor_paths)
    dry = migrate(cli, "--delete-after-migration", "--dry-run")
    assert dry.exit_code == 0
    paths = [naming.resource_path(str(dcor_paths["storage_path"]), r["id"])
             for _, r, _, _ in site]
    assert all(os.path.isfile(p) for p in paths)
    # one object is already there with other bytes of the same size: its
    # local file is the only good copy and must stay
    circle, damaged, data, _ = site[-1]
    s3.ensure_bucket(s3_client, circle_bucket(circle["id"]))
    damaged_key = naming.object_key("resource", damaged["id"])
    s3_client.put_object(Bucket=circle_bucket(circle["id"]),
                         Key=damaged_key, Body=b"X" * len(data))

    result = migrate(cli, "--delete-after-migration")
    assert result.exit_code == 1, result.output
    assert "7 local files deleted" in result.output  # 5 + condensed, preview
    assert os.path.isfile(paths[-1]) and not any(
        os.path.exists(p) for p in paths[:-1])
    for circle, resource, data, visible in site[:-1]:
        key = naming.object_key("resource", resource["id"])
        body = s3_client.get_object(Bucket=circle_bucket(circle['id']),
                                    Key=key)["Body"].read()
        assert body == data
    assert s3_client.get_object(
        Bucket=circle_bucket(circle["id"]),
        Key=damaged_key)["Body"].read() == b"X" * len(site[-1][2])


def test_bad_input(cli, app, worker_ini, tmp_path, dcor_paths):
    legacy_site(app, dcor_paths)
    result = migrate(cli, "--jobs", "0")
    assert result.exit_code != 0 and "--jobs" in result.output

    # S3 unreachable: a closed port
    unreachable = tmp_path / "unreachable.ini"
    unreachable.write_text(re.sub(
        r"(?m)^dcor_object_store.endpoint_url = .*$",
        "dcor_object_store.endpoint_url = http://127.0.0.1:9",
        worker_ini.read_text()))
    result = ckan_command(unreachable,
                          "dcor-migrate-resources-to-object-store",
                          "--delete-after-migration")
    assert result.returncode != 0
    assert "object store unreachable" in result.stderr
    assert "Traceback" not in result.stderr
    # nothing was deleted: 6 resources plus a condensed and a preview file
    assert len(files_below(dcor_paths["storage_path"])) == 8


def test_killed_migration_completes_on_rerun(app, worker_ini, s3_client,
                                             dcor_paths, tmp_path):
    import signal
    import time

    from ..helpers import upload_resource_file, write_random_file

    user, circle, dataset, token = make_circle_and_user(private=False)
    expected = {}
    for number in range(3):
        source = tmp_path / f"big{number}.rtdc"
        sha256 = write_random_file(source, 60 * 1024**2, seed=number)
        resource = upload_resource_file(app, token, dataset["id"], source)
        expected[resource["id"]] = sha256
        source.unlink()
    bucket = circle_bucket(circle['id'])
    process = start_ckan(worker_ini, "dcor-migrate-resources-to-object-store",
                         "--jobs", "2")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if parts_in_flight(s3_client, bucket):
            break
        assert process.poll() is None, "migration ended before the kill"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)
    # every local file is still there
    for rid, sha256 in expected.items():
        path = naming.resource_path(str(dcor_paths["storage_path"]), rid)
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == sha256

    result = ckan_command(worker_ini,
                          "dcor-migrate-resources-to-object-store")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    for rid, sha256 in expected.items():
        body = s3_client.get_object(
            Bucket=bucket, Key=naming.object_key("resource", rid))["Body"]
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(4 * 1024**2):
            digest.update(chunk)
        assert digest.hexdigest() == sha256
        shown = tk.get_action("resource_show")({"ignore_auth": True},
                                               {"id": rid})
        assert shown["sha256"] == sha256
