"""A resource row whose id is not a canonical UUID (CKAN accepts ids its
clients choose) is reported in one line; the commands go on."""
import os

import pytest

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.cli import maintenance
from ckanext.dcor_depot.cli import migrate as migrate_cli

from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

BAD_IDS = ["ABC", "{5d4a3b1e-2f0c-4c59-9d1e-0c6f0d2a7b31}",
           "5D4A3B1E-2F0C-4C59-9D1E-0C6F0D2A7B31"]


def add_resource_row(dataset_id, rid):
    """A row as an old client could have made it (no validation of ids)."""
    row = model.Resource(package_id=dataset_id, url="cells.rtdc",
                         url_type="upload", name="cells.rtdc", format="")
    row.id = rid
    row.position = model.Session.query(model.Resource).filter(
        model.Resource.package_id == dataset_id,
        model.Resource.state == "active").count()
    model.Session.add(row)
    model.Session.commit()


def lines_naming(output, rid):
    return [line for line in output.splitlines() if rid in line]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_migration_goes_on(cli, app, s3_client, bad_id):
    user, circle, dataset, token = make_circle_and_user()
    # its own dataset: CKAN 2.11 refuses to update a dataset with such an id
    bad_dataset = make_circle_and_user()[2]
    add_resource_row(bad_dataset["id"], bad_id)
    good = upload_resource(app, token, dataset["id"], b"cells" * 100)
    result = cli.invoke(migrate_cli.migrate_resources, [])
    assert len(lines_naming(result.output, bad_id)) == 1, result.output
    assert "not a valid resource id" in lines_naming(result.output,
                                                     bad_id)[0]
    assert "migrated 1, skipped 0, failed 1" in result.output
    assert result.exit_code == 1
    assert tk.get_action("resource_show")(
        {"ignore_auth": True}, {"id": good["id"]})["s3_available"]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_verify_goes_on(cli, app, run_worker, s3_client, bad_id):
    user, circle, dataset, token = make_circle_and_user()
    upload_resource(app, token, dataset["id"], b"cells" * 100)
    run_worker()
    add_resource_row(dataset["id"], bad_id)
    result = cli.invoke(maintenance.depot_verify, ["--checksum"])
    assert len(lines_naming(result.output, bad_id)) == 1, result.output
    assert "checked 2 resources: 1 problems" in result.output
    assert result.exit_code == 1


def test_orphans_goes_on(cli, app, run_worker, s3_client, dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], b"cells" * 100)
    run_worker()
    link = naming.resource_path(str(dcor_paths["storage_path"]),
                                resource["id"])
    depot_file = os.path.realpath(link)
    for bad_id in BAD_IDS:
        add_resource_row(dataset["id"], bad_id)
    tk.get_action("dataset_purge")({"ignore_auth": True},
                                   {"id": dataset["id"]})
    other = make_circle_and_user()[2]
    for bad_id in BAD_IDS:
        add_resource_row(other["id"], bad_id.lower() + "x")
    result = cli.invoke(maintenance.depot_orphans,
                        ["--min-age-hours", "0", "--delete"])
    assert result.exit_code == 0, result.output
    assert "2 orphans found, 2 removed" in result.output
    assert not os.path.exists(depot_file)
