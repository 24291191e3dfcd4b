"""Where CKAN keeps resource files (issue 23, items 10 and 11): below
ckan.storage_path, or in CKAN 2.12's resource storage (ckan.files.storage.*),
which the depot honours; what it cannot work with stops start-up in one
line. Sites run as real processes with their own ini (`ckan run`, `ckan
jobs worker`), since CKAN sets its storages up at start-up."""
import hashlib
import os
import uuid

import pytest
import requests

from ckanext.dcor_depot import naming

from .conftest import ckan_command
from .helpers import file_sha256, make_circle_and_user

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

try:
    from ckan.lib import files as ckan_files
except ImportError:  # CKAN 2.11 has no file storages
    ckan_files = None

needs_storages = pytest.mark.skipif(
    ckan_files is None, reason="CKAN 2.11 has no file storages")


def configure(worker_ini, lines):
    """Add `lines` to the site's ini (and the worker's: they share it)."""
    text = worker_ini.read_text()
    worker_ini.write_text(text.replace(
        "[app:main]\n", "[app:main]\n" + "".join(f"{line}\n" for line in lines),
        1))


def without_storage_path(worker_ini):
    text = worker_ini.read_text()
    lines = [line for line in text.splitlines()
             if not line.startswith("ckan.storage_path =")]
    worker_ini.write_text("\n".join(lines).replace(
        "[app:main]\n", "[app:main]\nckan.storage_path =\n", 1) + "\n")


def fs_storage(name, path, follow_symlinks=True):
    return [f"ckan.files.storage.{name}.type = ckan:fs",
            f"ckan.files.storage.{name}.path = {path}",
            f"ckan.files.storage.{name}.initialize = true",
            f"ckan.files.storage.{name}.follow_symlinks = "
            f"{str(follow_symlinks).lower()}"]


def file_sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def create(site, token, dataset_id, **fields):
    files = fields.pop("files", None)
    answer = requests.post(f"{site}/api/3/action/resource_create",
                           data={"package_id": dataset_id, **fields},
                           files=files, headers={"Authorization": token},
                           timeout=60)
    assert answer.status_code == 200, answer.text[-2000:]
    return answer.json()["result"]


SETUPS = {
    # item 10: CKAN 2.12's way, no ckan.storage_path; the resource storage
    # is derived from the default storage (its folder `resources`)
    "storages only": "default",
    # item 11: ckan.storage_path set, and a resource storage of its own
    "storage_path and a resource storage": "resources",
}


@needs_storages
@pytest.mark.parametrize("setup", list(SETUPS))
def test_resource_files_live_in_the_configured_storage(
        setup, request, worker_ini, dcor_paths, tmp_path, run_worker):
    storage = tmp_path / "files"
    if SETUPS[setup] == "default":
        without_storage_path(worker_ini)
        configure(worker_ini, fs_storage("default", storage))
        folder = storage / "resources"
    else:
        configure(worker_ini, fs_storage("resources", storage))
        folder = storage
    site = request.getfixturevalue("live_site")
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(4096)
    resource = create(site, token, dataset["id"], name="cells.rtdc",
                      files={"upload": ("cells.rtdc", data)})
    link = create(site, token, dataset["id"], name="paper",
                  url="https://example.org/paper.pdf")
    assert link["url_type"] in ("", None)
    rid = resource["id"]
    ckan_file = str(folder / rid[:3] / rid[3:6] / rid[6:])
    assert file_sha256(ckan_file) == file_sha256_of(data)
    # nothing was written where the operator did not point CKAN
    assert not os.path.lexists(naming.resource_path(
        str(dcor_paths["storage_path"]), resource["id"]))

    run_worker()
    # the depot move started from the storage: a verified depot copy, and
    # a symlink to it in the storage
    assert os.path.islink(ckan_file)
    target = os.path.realpath(ckan_file)
    assert target.startswith(str(dcor_paths["depots_path"]))
    assert file_sha256(target) == file_sha256_of(data)
    shown = requests.get(f"{site}/api/3/action/resource_show",
                         params={"id": resource["id"]},
                         headers={"Authorization": token}, timeout=60)
    fields = shown.json()["result"]
    assert fields["s3_available"] and fields["sha256"] == file_sha256_of(data)
    if SETUPS[setup] == "resources":
        # both are set: the site says where the files go
        log = (tmp_path / "site.log").read_text()
        assert f"resource files are written to CKAN's resource storage " \
            f"'resources' at {storage}, not below ckan.storage_path" in log
    # CKAN's download route still gives the bytes
    download = requests.get(
        f"{site}/dataset/{dataset['id']}/resource/{resource['id']}/download",
        headers={"Authorization": token}, timeout=60)
    assert download.status_code == 200 and download.content == data


def start_up_error(worker_ini, key):
    """The one line of a refused start-up that names `key`."""
    result = ckan_command(worker_ini, "jobs", "list")
    assert result.returncode != 0, "the site started"
    assert "Traceback" not in result.stderr.strip().splitlines()[-1]
    lines = [line for line in result.stderr.splitlines() if key in line]
    assert lines, result.stderr[-3000:]
    return lines[-1]


def test_no_storage_path_and_no_storage_stops_start_up(worker_ini):
    without_storage_path(worker_ini)
    line = start_up_error(worker_ini, "ckan.storage_path")
    assert "ckan.files.storage.resources" in line


@needs_storages
@pytest.mark.parametrize("lines,key", [
    # CKAN offers its memory storage where `testing` is on
    (["testing = true", "ckan.files.storage.default.type = ckan:memory"],
     "ckan.files.storage.default.type"),
    (["testing = true", "ckan.files.storage.resources.type = ckan:memory"],
     "ckan.files.storage.resources.type"),
    (fs_storage("default", "/tmp/dcor-depot-test-{}", follow_symlinks=False),
     "ckan.files.storage.default.follow_symlinks"),
    (fs_storage("resources", "/tmp/dcor-depot-test-{}") +
     ["ckan.files.storage.resources.public = true"],
     "ckan.files.storage.resources.public"),
])
def test_storage_the_depot_cannot_use_stops_start_up(worker_ini, lines, key,
                                                     tmp_path):
    folder = str(tmp_path / f"files-{uuid.uuid4().hex[:6]}")
    configure(worker_ini, [line.replace("/tmp/dcor-depot-test-{}", folder)
                           for line in lines])
    start_up_error(worker_ini, key)
