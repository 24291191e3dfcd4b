"""Invariant 1: SIGKILL of the worker at a bad moment loses nothing, and a
re-run converges."""
import os
import pathlib
import shutil
import tempfile

import pytest

import ckan.plugins.toolkit as tk

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.storage import s3

from ..conftest import circle_bucket, ckan_command, start_worker
from ..helpers import (file_sha256, files_below, kill_when,
                       make_circle_and_user, parts_in_flight,
                       upload_resource_file, write_random_file)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]
BIG = 200 * 1024**2


def complete_with_run_jobs(worker_ini):
    result = ckan_command(worker_ini, "run-jobs-dcor-depot")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout
    return result


@pytest.fixture
def depots_on_other_fs(dcor_paths, ckan_config, monkeypatch, worker_ini):
    """depots_path on tmpfs, so the move copies across file systems."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    folder = tempfile.mkdtemp(prefix="dcor-depots-", dir="/dev/shm")
    if os.stat(folder).st_dev == os.stat(dcor_paths["storage_path"]).st_dev:
        shutil.rmtree(folder)
        pytest.skip("/dev/shm is on the same file system")
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.depots_path", folder)
    text = worker_ini.read_text().replace(
        str(dcor_paths["depots_path"]), folder)
    worker_ini.write_text(text)
    yield pathlib.Path(folder)
    shutil.rmtree(folder)


def test_kill_during_cross_fs_move(app, worker_ini, depots_on_other_fs,
                                   dcor_paths, tmp_path, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    source = tmp_path / "big.rtdc"
    sha256 = write_random_file(source, BIG)
    resource = upload_resource_file(app, token, dataset["id"], source)
    source.unlink()
    ckan_file = naming.resource_path(str(dcor_paths["storage_path"]),
                                     resource["id"])

    def copying():
        return any(".part-" in p and os.path.getsize(p) > 0
                   for p in files_below(depots_on_other_fs))

    kill_when(start_worker(worker_ini), copying)
    # CKAN's file is untouched and complete
    assert not os.path.islink(ckan_file)
    assert file_sha256(ckan_file) == sha256

    complete_with_run_jobs(worker_ini)
    assert os.path.islink(ckan_file)
    assert file_sha256(ckan_file) == sha256
    depot_files = files_below(depots_on_other_fs)
    assert depot_files == [os.readlink(ckan_file)]  # no temp left
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": resource["id"]})
    assert shown["sha256"] == sha256 and shown["s3_available"]


def test_kill_during_upload(app, worker_ini, dcor_paths, tmp_path, s3_client,
                            run_worker):
    user, circle, dataset, token = make_circle_and_user()
    source = tmp_path / "big.rtdc"
    sha256 = write_random_file(source, BIG)
    resource = upload_resource_file(app, token, dataset["id"], source)
    source.unlink()
    rid = resource["id"]
    bucket = circle_bucket(circle['id'])
    key = naming.object_key("resource", rid)

    kill_when(start_worker(worker_ini),
              lambda: parts_in_flight(s3_client, bucket))
    ckan_file = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    assert file_sha256(ckan_file) == sha256
    assert s3.object_head(s3_client, bucket, key) is None
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")

    complete_with_run_jobs(worker_ini)
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert s3.object_tags(s3_client, bucket, key)["sha256"] == sha256
    digest = __import__("hashlib").sha256()
    for chunk in s3_client.get_object(Bucket=bucket, Key=key)[
            "Body"].iter_chunks(4 * 1024**2):
        digest.update(chunk)
    assert digest.hexdigest() == sha256

    # a second run transfers nothing
    again = complete_with_run_jobs(worker_ini)
    assert "0 steps completed" in again.stdout
