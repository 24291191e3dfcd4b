"""Several workers on one queue: every job runs once, nothing is corrupted."""
import collections
import re
import subprocess

import pytest

import ckan.plugins.toolkit as tk

from ckanext.dcor_depot import naming

from ..conftest import start_worker
from ..helpers import file_sha256, make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def test_three_workers_share_the_queue(app, worker_ini, s3_client,
                                       dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    data = {}
    for number in range(8):
        body = bytes([number]) * (512 * 1024 + number)
        resource = upload_resource(app, token, dataset["id"], body,
                                   name=f"cells{number}.rtdc")
        data[resource["id"]] = body
    workers = [start_worker(worker_ini, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
               for _ in range(3)]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), logs

    runs = collections.Counter(
        match.group(1) for log in logs for match in re.finditer(
            r"resource (\S+): DEPOT_MOVE ", log))
    uploads = collections.Counter(
        match.group(1) for log in logs for match in re.finditer(
            r"resource (\S+): S3_UPLOAD ", log))
    assert runs == {rid: 1 for rid in data}
    assert uploads == {rid: 1 for rid in data}
    for rid, body in data.items():
        shown = tk.get_action("resource_show")({"ignore_auth": True},
                                               {"id": rid})
        link = naming.resource_path(str(dcor_paths["storage_path"]), rid)
        assert open(link, "rb").read() == body
        assert file_sha256(link) == shown["sha256"]
        assert shown["s3_available"]
