import hashlib
import os

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.cli import depot as depot_cli

from ..conftest import circle_bucket
from ..helpers import files_below, make_circle_and_user, write_random_file

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def resources_of(dataset_id):
    return tk.get_action("package_show")({"ignore_auth": True},
                                         {"id": dataset_id})["resources"]


@pytest.mark.parametrize("state", ["active", "draft"])
def test_append_resource_twice_adds_once(cli, tmp_path, s3_client, state,
                                         dcor_paths):
    user, circle, dataset, token = make_circle_and_user(state=state)
    source = tmp_path / "measurement.rtdc"
    sha256 = write_random_file(source, 21 * 1024**2 + 5)  # multipart

    result = cli.invoke(depot_cli.append_resource,
                        [str(source), dataset["id"]])
    assert result.exit_code == 0, result.output
    resources = resources_of(dataset["id"])
    assert len(resources) == 1
    resource = resources[0]
    assert resource["sha256"] == sha256 and resource["s3_available"]
    ckan_file = naming.resource_path(str(dcor_paths["storage_path"]),
                                     resource["id"])
    assert os.path.islink(ckan_file)
    assert hashlib.sha256(open(ckan_file, "rb").read()).hexdigest() == sha256
    bucket = circle_bucket(circle['id'])
    key = naming.object_key("resource", resource["id"])
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha256
    depot_files = files_below(dcor_paths["depots_path"])

    again = cli.invoke(depot_cli.append_resource,
                       [str(source), dataset["id"]])
    assert again.exit_code == 0, again.output
    assert "already present" in again.output
    assert resources_of(dataset["id"]) == resources
    assert files_below(dcor_paths["depots_path"]) == depot_files
    assert source.exists()


def test_append_resource_delete_source(cli, tmp_path, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    source = tmp_path / "cells.rtdc"
    source.write_bytes(b"cells" * 100)
    result = cli.invoke(depot_cli.append_resource,
                        [str(source), dataset["id"], "--delete-source"])
    assert result.exit_code == 0, result.output
    assert not source.exists()
    assert len(resources_of(dataset["id"])) == 1


def test_append_resource_bad_input(cli, tmp_path, dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    unreadable = tmp_path / "secret.rtdc"
    unreadable.write_bytes(b"x")
    unreadable.chmod(0)
    cases = [
        ([str(tmp_path / "missing.rtdc"), dataset["id"]], "no such file"),
        ([str(tmp_path), dataset["id"]], "is a directory"),
        ([str(unreadable), "no-such-dataset"], None),
        ([str(tmp_path / "missing.rtdc"), "no-such-dataset"], "no such file"),
    ]
    real = tmp_path / "real.rtdc"
    real.write_bytes(b"y")
    cases.append(([str(real), "no-such-dataset"], "no such dataset"))
    if os.geteuid() != 0:  # root reads anything
        cases.append(([str(unreadable), dataset["id"]], "cannot read"))
    for args, message in cases:
        result = cli.invoke(depot_cli.append_resource, args)
        assert result.exit_code != 0, args
        lines = [l for l in result.output.splitlines() if l.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), lines
        if message:
            assert message in lines[0]
    assert resources_of(dataset["id"]) == []
    assert files_below(dcor_paths["depots_path"]) == []


def test_run_jobs_completes_unfinished_resources(cli, app, run_worker,
                                                 s3_client, dcor_paths):
    from ..helpers import upload_resource
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], b"cells" * 10)
    # no worker ran: both steps are missing
    result = cli.invoke(depot_cli.run_jobs_dcor_depot, [])
    assert result.exit_code == 0, result.output
    assert f"{resource['id']}: depot linked" in result.output
    assert f"{resource['id']}: s3 uploaded" in result.output
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": resource["id"]})
    assert shown["s3_available"]
    again = cli.invoke(depot_cli.run_jobs_dcor_depot, ["--modified-days", "1"])
    assert again.exit_code == 0
    assert "0 steps completed" in again.output


def test_delete_source_refuses_files_the_site_keeps(cli, tmp_path,
                                                    s3_client, dcor_paths):
    """Safety issue, item 6: a source inside depots_path or
    ckan.storage_path (directly or through CKAN's symlink) is the only
    verified copy of some resource; --delete-source must not take it."""
    user, circle, dataset, token = make_circle_and_user()
    source = tmp_path / "first.rtdc"
    write_random_file(source, 4000)
    result = cli.invoke(depot_cli.append_resource,
                        [str(source), dataset["id"]])
    assert result.exit_code == 0, result.output
    resource, = resources_of(dataset["id"])
    link = naming.resource_path(str(dcor_paths["storage_path"]),
                                resource["id"])
    depot_file = os.readlink(link)
    other = factories.Dataset(owner_org=circle["id"], user=user)
    for path, key in ((depot_file, "ckanext.dcor_depot.depots_path"),
                      (link, "ckanext.dcor_depot.depots_path")):
        refused = cli.invoke(depot_cli.append_resource,
                             [path, other["id"], "--delete-source"])
        assert refused.exit_code != 0
        assert f"lies inside {key}" in refused.output
        assert len(refused.output.strip().splitlines()) == 1
    assert os.path.isfile(depot_file) and os.path.islink(link)
    assert resources_of(other["id"]) == []


# an unfinished multipart upload of the browser's API lives 2 days by
# default; here only the URL expiry and the job timeout are at stake
@pytest.mark.ckan_config("ckanext.dcor_depot.multipart_upload_lifetime", 3600)
def test_prune_refuses_uploads_that_may_be_in_flight(cli, s3_client,
                                                     ckan_config,
                                                     monkeypatch):
    circle = factories.Organization()
    bucket = circle_bucket(circle["id"])
    s3_client.create_bucket(Bucket=bucket)
    s3_client.create_multipart_upload(Bucket=bucket, Key="resource/in/flight")

    def prune(days):
        return cli.invoke(depot_cli.prune_stale_multipart_uploads,
                          ["--initiated-before-days", str(days)])

    # defaults: URLs expire after an hour, jobs after 6 hours
    refused = prune(0)
    lines = [l for l in refused.output.splitlines() if l.strip()]
    assert refused.exit_code != 0
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert "--initiated-before-days" in lines[0] and "at least 1" in lines[0]

    # a job may run for 3 days: 3 whole days are not more than that
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.job_timeout",
                        3 * 24 * 3600)
    assert "at least 4" in prune(3).output
    assert prune(3).exit_code != 0
    accepted = prune(4)
    assert accepted.exit_code == 0, accepted.output
    assert "0 stale multipart uploads found, 0 aborted" in accepted.output

    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.job_timeout", 60)
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.upload_url_expiry",
                        24 * 3600)
    assert "at least 2" in prune(1).output
    assert len(s3_client.list_multipart_uploads(Bucket=bucket)["Uploads"]) \
        == 1


def test_every_route_records_the_crc32_and_run_jobs_fills_it_in(
        cli, app, run_worker, s3_client, tmp_path):
    """Archives part 2, item 3: the CRC-32 a zip needs ahead of time comes
    from the pass that reads the file anyway (upload, direct upload's
    backup, append), and run-jobs computes it for resources stored before
    it was kept."""
    import zlib
    from ..helpers import upload_directly, upload_resource
    user, circle, dataset, token = make_circle_and_user()
    uploaded = os.urandom(70_000)
    direct = os.urandom(90_000)
    appended = tmp_path / "appended.rtdc"
    appended.write_bytes(os.urandom(50_000))
    expected = {upload_resource(app, token, dataset["id"], uploaded,
                                name="uploaded.rtdc")["id"]:
                zlib.crc32(uploaded),
                upload_directly(app, token, circle["id"], dataset["id"],
                                direct): zlib.crc32(direct)}
    run_worker()
    result = cli.invoke(depot_cli.append_resource,
                        [str(appended), dataset["id"]])
    assert result.exit_code == 0, result.output
    for resource in resources_of(dataset["id"]):
        if resource["name"] == "appended.rtdc":
            expected[resource["id"]] = zlib.crc32(appended.read_bytes())
    assert len(expected) == 3
    for resource in resources_of(dataset["id"]):
        assert resource["crc32"] == expected[resource["id"]], resource
    # as stored before the CRC-32 was kept
    for rid in expected:
        tk.get_action("resource_patch")(
            {"ignore_auth": True, "dcor_depot_internal": True},
            {"id": rid, "crc32": None})
    assert all(r.get("crc32") is None for r in resources_of(dataset["id"]))
    result = cli.invoke(depot_cli.run_jobs_dcor_depot, [])
    assert result.exit_code == 0, result.output
    assert result.output.count("checksums") == 3, result.output
    for resource in resources_of(dataset["id"]):
        assert resource["crc32"] == expected[resource["id"]], resource
