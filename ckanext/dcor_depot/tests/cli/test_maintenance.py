import os

import pytest

import ckan.plugins.toolkit as tk

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.cli import maintenance

from ..conftest import circle_bucket
from ..helpers import files_below, make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def stored_resource(app, run_worker, private=True):
    user, circle, dataset, token = make_circle_and_user(private=private)
    resource = upload_resource(app, token, dataset["id"], b"cells" * 100)
    run_worker()
    return circle, dataset, tk.get_action("resource_show")(
        {"ignore_auth": True}, {"id": resource["id"]})


def test_list_objects(cli, app, run_worker, s3_client):
    circle, dataset, resource = stored_resource(app, run_worker)
    result = cli.invoke(maintenance.list_s3_objects_for_dataset,
                        [dataset["id"]])
    assert result.exit_code == 0, result.output
    key = naming.object_key("resource", resource["id"])
    assert f"s3://{circle_bucket(circle['id'])}/{key} exists=yes public=no" in \
        result.output
    assert "condensed" in result.output and "exists=no" in result.output
    bad = cli.invoke(maintenance.list_s3_objects_for_dataset, ["nope"])
    assert bad.exit_code != 0 and "no such dataset: nope" in bad.output


def test_verify_finds_problems(cli, app, run_worker, s3_client, dcor_paths):
    circle, dataset, resource = stored_resource(app, run_worker)
    ok = cli.invoke(maintenance.depot_verify, ["--checksum"])
    assert ok.exit_code == 0, ok.output
    assert "checked 1 resources: 0 problems" in ok.output

    key = naming.object_key("resource", resource["id"])
    bucket = circle_bucket(circle['id'])
    s3_client.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [
        {"Key": "sha256", "Value": resource["sha256"]},
        {"Key": "public", "Value": "true"}]})
    depot_file = os.path.realpath(naming.resource_path(
        str(dcor_paths["storage_path"]), resource["id"]))
    with open(depot_file, "r+b") as handle:
        handle.write(b"X")
    bad = cli.invoke(maintenance.depot_verify, [dataset["id"], "--checksum"])
    assert bad.exit_code == 1
    assert "object is public but should be private" in bad.output
    assert "local copy has sha256" in bad.output


def test_orphans_after_purge(cli, app, run_worker, s3_client, dcor_paths):
    circle, dataset, resource = stored_resource(app, run_worker)
    kept_circle, kept_dataset, kept = stored_resource(app, run_worker)
    tk.get_action("dataset_purge")({"ignore_auth": True},
                                   {"id": dataset["id"]})
    young = cli.invoke(maintenance.depot_orphans, ["--delete"])
    assert "0 orphans found" in young.output  # younger than a day

    listed = cli.invoke(maintenance.depot_orphans, ["--min-age-hours", "0"])
    assert listed.exit_code == 0, listed.output
    assert "2 orphans found, 0 removed" in listed.output
    dry = cli.invoke(maintenance.depot_orphans,
                     ["--min-age-hours", "0", "--delete", "--dry-run"])
    assert "0 removed" in dry.output
    gone = cli.invoke(maintenance.depot_orphans,
                      ["--min-age-hours", "0", "--delete"])
    assert "2 orphans found, 2 removed" in gone.output
    remaining = files_below(dcor_paths["depots_path"])
    assert len(remaining) == 1 and kept["id"] in remaining[0]
    key = naming.object_key("resource", kept["id"])
    assert s3_client.head_object(Bucket=circle_bucket(kept_circle['id']),
                                 Key=key)
