"""CKAN's resource uploader with depot symlinks: its guards."""
import io
import os
import uuid

import pytest

import ckan.plugins.toolkit as tk

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.storage.ckan_uploader import DepotResourceUpload

from ..helpers import file_sha256, make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def symlink_at_ckan_path(dcor_paths, rid, target):
    path = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    os.makedirs(os.path.dirname(path))
    os.symlink(target, path)
    return path


def test_symlink_into_the_depots_is_accepted(dcor_paths):
    rid = str(uuid.uuid4())
    depot_file = dcor_paths["depots_path"] / "users-test" / "cells.rtdc"
    depot_file.parent.mkdir(parents=True)
    depot_file.write_bytes(b"cells")
    path = symlink_at_ckan_path(dcor_paths, rid, str(depot_file))
    assert DepotResourceUpload({"id": rid, "url": "x"}).get_path(rid) == path


def test_symlink_leaving_the_depots_is_refused(dcor_paths, tmp_path):
    rid = str(uuid.uuid4())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"secret")
    symlink_at_ckan_path(dcor_paths, rid, str(elsewhere))
    with pytest.raises(tk.ValidationError, match="links outside the depots"):
        DepotResourceUpload({"id": rid, "url": "x"}).get_path(rid)


def test_the_file_of_an_upload_cannot_be_replaced(app, run_worker,
                                                  dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], b"first bytes")
    run_worker()
    link = naming.resource_path(str(dcor_paths["storage_path"]),
                                resource["id"])
    before = file_sha256(link)
    response = app.post(
        "/api/3/action/resource_update",
        data={"id": resource["id"],
              "upload": (io.BytesIO(b"other bytes"), "cells.rtdc")},
        headers={"Authorization": token}, content_type="multipart/form-data")
    assert response.status_code == 409, response.body
    assert "cannot be replaced" in str(response.json["error"])
    assert file_sha256(link) == before
