"""The reference deployment itself (deploy/ rendered on loopback): nginx in
front of several uWSGI processes, RQ workers as the unit runs them, and
depot downloads sent by nginx through X-Accel-Redirect."""
import hashlib
import os

import pytest
import requests

from ..helpers import make_circle_and_user

pytestmark = pytest.mark.usefixtures("clean_db", "clean_queues",
                                     "with_plugins")


def test_nginx_serves_ckan_from_several_uwsgi_processes(deployment):
    site = deployment(processes=2, threads=2, workers=0)
    assert site.uwsgi_apps_ready() == 2
    through_nginx = requests.get(f"{site.url}/api/3/action/status_show",
                                 timeout=30)
    assert through_nginx.status_code == 200
    assert through_nginx.headers["Server"].startswith("nginx")
    assert through_nginx.json()["result"]["site_url"] == site.url
    direct = requests.get(f"{site.uwsgi_url}/api/3/action/status_show",
                          timeout=30)
    assert direct.status_code == 200 and "Server" not in direct.headers
    # uWSGI closes after each answer and says so: a client that keeps its
    # connection (nginx does not, requests does) never meets a reset
    assert direct.headers["Connection"] == "close"
    with requests.Session() as session:
        for _ in range(30):
            assert session.get(f"{site.uwsgi_url}/api/3/action/status_show",
                               timeout=30).status_code == 200
    # the rendered files are the shipped ones with loopback values
    conf = site.nginx_site.read_text()
    assert f"proxy_pass http://127.0.0.1:{site.run.uwsgi_port}/;" in conf
    assert "proxy_no_cache $cookie_auth_tkt;" in conf
    assert f"alias {site.run.storage_path.rstrip('/')}/;" in conf


def upload_through(site, token, dataset_id, data, name="cells.rtdc"):
    response = requests.post(
        f"{site.url}/api/3/action/resource_create",
        data={"package_id": dataset_id, "name": name},
        files={"upload": (name, data)},
        headers={"Authorization": token}, timeout=120)
    assert response.status_code == 200, response.text[:500]
    return response.json()["result"]


def wait_for_sha256(site, token, rid, timeout=300):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resource = requests.get(
            f"{site.url}/api/3/action/resource_show", params={"id": rid},
            headers={"Authorization": token}, timeout=30).json()["result"]
        if resource.get("sha256"):
            return resource
        time.sleep(0.3)
    raise AssertionError(f"no worker stored {rid} within {timeout} s")


def test_depot_download_is_sent_by_nginx_with_ranges(deployment, s3_client):
    site = deployment(processes=2, threads=2, workers=1, settings={
        "ckanext.dcor_depot.download_providers": "depot s3"})
    user, circle, dataset, token = make_circle_and_user(private=True)
    data = os.urandom(3_000_000)
    resource = upload_through(site, token, dataset["id"], data)
    resource = wait_for_sha256(site, token, resource["id"])
    assert resource["sha256"] == hashlib.sha256(data).hexdigest()
    path = f"/dataset/{dataset['id']}/resource/{resource['id']}/download"

    # uWSGI answers with an empty body and the internal location ...
    inner = requests.get(site.uwsgi_url + path, timeout=30,
                         headers={"Authorization": token})
    assert inner.status_code == 200 and inner.content == b""
    assert inner.headers["X-Accel-Redirect"].startswith("/_dcor_storage/")
    # ... and nginx sends the file, with Range
    whole = requests.get(site.url + path, timeout=60,
                         headers={"Authorization": token})
    assert whole.status_code == 200 and whole.content == data
    assert "X-Accel-Redirect" not in whole.headers
    assert 'filename="cells.rtdc"' in whole.headers["Content-Disposition"]
    # bytes, not a page: nginx's gzip (on in Debian's nginx.conf) would
    # compress a text/html answer and drop Range support with it
    assert whole.headers["Content-Type"] == "application/octet-stream"
    assert "Content-Encoding" not in whole.headers
    part = requests.get(site.url + path, timeout=60,
                        headers={"Authorization": token,
                                 "Range": "bytes=1000000-1999999"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == "bytes 1000000-1999999/3000000"
    assert part.content == data[1_000_000:2_000_000]

    # the internal location is not reachable from outside
    direct = requests.get(site.url + inner.headers["X-Accel-Redirect"],
                          timeout=30)
    assert direct.status_code == 404 and data[:100] not in direct.content
    anonymous = requests.get(site.url + path, timeout=30)
    assert anonymous.status_code in (403, 404)
    assert data[:100] not in anonymous.content
