"""Quotas per circle (issue 26, item 2, the entry of direct uploads):
circle_quota_update, the one-line refusal before any URL is issued, and
two requests at once that cannot both pass."""
import concurrent.futures
import threading

import pytest
import requests

from ckan.tests import factories

from ..helpers import ask_urls, make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def api(app, token, action, status=200, **data):
    response = app.post(f"/api/3/action/{action}", json=data,
                        headers={"Authorization": token} if token else {})
    assert response.status_code == status, response.body
    return response.json


def sysadmin_token():
    sysadmin = factories.Sysadmin()
    return factories.APIToken(user=sysadmin["name"])["token"]


@pytest.mark.ckan_config("ckanext.dcor_depot.circle_quota_bytes", 5000)
def test_only_a_sysadmin_sets_a_circles_quota(app):
    user, circle, dataset, token = make_circle_and_user()
    admin = sysadmin_token()
    assert api(app, token, "circle_storage_show",
               id=circle["id"])["result"]["quota_bytes"] == 5000
    api(app, token, "circle_quota_update", status=403, id=circle["id"],
        quota_bytes=10**9)
    for bad in (-1, "lots", 1.5, True, None):
        body = api(app, admin, "circle_quota_update", status=409,
                   id=circle["id"], quota_bytes=bad)
        assert "must be a whole number of bytes" in str(body)
    api(app, admin, "circle_quota_update", status=404, id="no-such-circle",
        quota_bytes=1)
    assert api(app, token, "circle_storage_show",
               id=circle["id"])["result"]["quota_bytes"] == 5000
    shown = api(app, admin, "circle_quota_update", id=circle["name"],
                quota_bytes="7000")["result"]
    assert shown["quota_bytes"] == 7000
    api(app, admin, "circle_quota_update", id=circle["id"], quota_bytes=0)
    assert api(app, token, "circle_storage_show",
               id=circle["id"])["result"]["quota_bytes"] == 0  # none


def test_upload_urls_are_refused_beyond_the_quota(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    api(app, sysadmin_token(), "circle_quota_update", id=circle["id"],
        quota_bytes=10_000)
    upload_resource(app, token, dataset["id"], b"u" * 6000)
    run_worker()
    refused = ask_urls(app, token, circle["id"], 5000, status=409)
    assert refused["error"]["file_size"] == [
        f"not accepted: circle {circle['name']} holds 6.0 kB of its "
        "10.0 kB quota, and this file has 5.0 kB"]
    ask_urls(app, token, circle["id"], 4000)
    # the issued upload reserves its size
    refused = ask_urls(app, token, circle["id"], 1, status=409)
    assert "holds 10.0 kB of its 10.0 kB quota" in \
        refused["error"]["file_size"][0]


def test_two_requests_at_once_never_both_pass(deployment):
    site = deployment(processes=2, threads=4, workers=0)
    user, circle, dataset, token = make_circle_and_user()
    admin = sysadmin_token()
    answer = requests.post(f"{site.url}/api/3/action/circle_quota_update",
                           json={"id": circle["id"], "quota_bytes": 1000},
                           headers={"Authorization": admin}, timeout=60)
    assert answer.status_code == 200, answer.text[:500]
    start = threading.Barrier(8)

    def ask(_):
        start.wait()
        return requests.post(
            f"{site.url}/api/3/action/resource_upload_s3_urls",
            json={"organization_id": circle["id"], "file_size": 600},
            headers={"Authorization": token}, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 7, [a.text[:300] for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert "holds 600 bytes of its 1.0 kB quota, and this file " \
            "has 600 bytes" in refused.text
