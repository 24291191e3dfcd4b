"""Issue 22 item 5: each step of a resource runs once. Before, a dataset
update while `{rid}-depot-upload` waited queued the finished
`{rid}-depot-move` again (a second read of the whole file)."""
import re

import pytest

from ckanext.dcor_depot import jobs

from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def step_runs(log: str, rid: str) -> list[str]:
    return re.findall(rf"resource {rid}: (\w+) \w+", log)


def test_an_update_while_the_upload_waits_queues_nothing_again(
        app, run_worker, s3_client):
    _, _, dataset, token = make_circle_and_user(private=False)
    rid = upload_resource(app, token, dataset["id"], b"cells")["id"]
    # the move runs (here, in the foreground) and queues the upload
    jobs.move_to_depot_job(rid)
    for patch in ({"notes": "edited"}, {"private": True}):
        response = app.post("/api/3/action/package_patch",
                            json={"id": dataset["id"], **patch},
                            headers={"Authorization": token})
        assert response.status_code == 200, response.body
    result = run_worker()
    assert step_runs(result.stderr, rid) == ["S3_UPLOAD"]
    # and a second worker run finds nothing left to do
    assert step_runs(run_worker().stderr, rid) == []
