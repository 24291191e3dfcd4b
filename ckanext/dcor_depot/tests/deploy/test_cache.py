"""Private stays private behind a cache (issue 22 item 4): the reference
deployment's nginx with CKAN's documented proxy_cache block and
ckan.cache_expires = 600. A circle member fetches every private route,
with a token and with a session cookie; an anonymous client then asks for
the same URLs and never gets a private byte, name or checksum. A public,
active dataset's manifest stays cacheable and conditional."""
import os
import re
import types

import pytest
import requests

from ckan.tests import factories

from ...workflows import records
from .test_topology import upload_through, wait_for_sha256

pytestmark = pytest.mark.usefixtures("clean_db", "clean_queues",
                                     "with_plugins")

PASSWORD = "cache-test-Pa55word"


def cookie_session(site, user_name):
    """A browser's session: CKAN's login form, its cookie afterwards."""
    session = requests.Session()
    form = session.get(f"{site.url}/user/login", timeout=30).text
    token = re.search(r'name="_csrf_token"\s+value="([^"]+)"', form)
    answer = session.post(f"{site.url}/user/login", timeout=30, data={
        "login": user_name, "password": PASSWORD,
        "_csrf_token": token.group(1) if token else ""})
    assert answer.status_code == 200, answer.text[:300]
    assert session.cookies, "no session cookie after login"
    dashboard = session.get(f"{site.url}/dashboard/datasets", timeout=30,
                            allow_redirects=False)
    assert dashboard.status_code == 200, "the cookie session is not logged in"
    return session


def directives(response, name):
    return {part.strip().lower().split("=")[0]
            for part in response.headers.get(name, "").split(",")
            if part.strip()}


def test_a_cache_never_hands_private_content_to_anyone_else(deployment,
                                                           s3_client):
    site = deployment(processes=1, threads=4, workers=1, settings={
        "ckan.cache_expires": "600",
        "ckanext.dcor_depot.download_providers": "depot s3"})
    user = factories.User(password=PASSWORD)
    circle = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    dataset = factories.Dataset(owner_org=circle["id"], private=True,
                                user=user, name="secret-cells-dataset")
    token = factories.APIToken(user=user["name"])["token"]
    local, remote = os.urandom(200_000), os.urandom(150_000)
    by_depot = upload_through(site, token, dataset["id"], local,
                              name="secret-local-name.rtdc")
    by_s3 = upload_through(site, token, dataset["id"], remote,
                           name="secret-remote-name.rtdc")
    # polled past nginx: its cache is what the test looks at (the API's
    # caching is checked at the end)
    behind_nginx = types.SimpleNamespace(url=site.uwsgi_url)
    by_depot = wait_for_sha256(behind_nginx, token, by_depot["id"])
    by_s3 = wait_for_sha256(behind_nginx, token, by_s3["id"])
    # this one's local copy is gone from CKAN's path: the S3 provider (a
    # redirect to a presigned URL) answers its download
    os.unlink(records.ckan_path(by_s3["id"]))
    listed = requests.post(
        f"{site.url}/api/3/action/download_list_add", timeout=30,
        json={"resource_ids": [by_depot["id"]]},
        headers={"Authorization": token})
    assert listed.status_code == 200, listed.text[:300]

    pid = dataset["id"]
    download = f"/dataset/{pid}/resource/{{}}/download"
    urls = {
        "depot stream": download.format(by_depot["id"]),
        "depot stream, a range": download.format(by_depot["id"]),
        "redirect": download.format(by_s3["id"]),
        "manifest.sha256": f"/dataset/{pid}/manifest.sha256",
        "manifest.csv": f"/dataset/{pid}/manifest.csv",
        "dataset archive": f"/dataset/{pid}/archive",
        "selection archive": f"/download/archive?dataset={pid}",
        "list archive": f"/download/archive?resource={by_depot['id']}",
        "download list page": "/dashboard/download-list",
    }
    secrets = [by_depot["sha256"], by_s3["sha256"], "secret-local-name",
               "secret-remote-name", "secret-cells-dataset",
               local[:64], remote[:64]]

    member_answers = {}
    cookie = cookie_session(site, user["name"])
    for how, get in (
            ("token", lambda url, **kw: requests.get(
                url, headers={"Authorization": token, **kw}, timeout=60,
                allow_redirects=False)),
            ("cookie", lambda url, **kw: cookie.get(
                url, headers=kw, timeout=60, allow_redirects=False))):
        for what, path in urls.items():
            extra = {"Range": "bytes=10-99"} if "range" in what else {}
            for _ in range(2):  # a second time, for a cache that stores late
                answer = get(site.url + path, **extra)
            assert answer.status_code in (200, 206, 302), (how, what,
                                                           answer.status_code)
            member_answers[how, what] = answer
    assert member_answers["token", "depot stream"].content == local
    assert member_answers["cookie", "depot stream, a range"].content == \
        local[10:100]
    assert "X-Amz-Signature=" in \
        member_answers["token", "redirect"].headers["Location"]
    assert by_depot["sha256"] in \
        member_answers["cookie", "manifest.sha256"].text

    # an anonymous client asks for the same URLs
    statuses = {}
    for what, path in urls.items():
        for extra in ({}, {"Range": "bytes=10-99"}):
            answer = requests.get(site.url + path, headers=extra, timeout=60,
                                  allow_redirects=False)
            body = answer.content
            assert not any((s.encode() if isinstance(s, str) else s) in body
                           for s in secrets), (what, body[:300])
            assert "X-Amz" not in answer.headers.get("Location", "")
            statuses[what] = answer.status_code
    # unreadable is absent; the download list sends to the login form
    assert statuses == {what: 302 if what == "download list page" else 404
                        for what in urls}, statuses
    # and nothing private is in nginx's cache at all
    for folder, _, files in os.walk(site.cache_dir):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                kept = handle.read()
            assert not any((s.encode() if isinstance(s, str) else s) in kept
                           for s in secrets), name

    # every member's answer said so, through nginx (X-Accel-Redirect too)
    for (how, what), answer in member_answers.items():
        assert directives(answer, "Cache-Control") == {"private",
                                                       "no-store"}, \
            (how, what, answer.headers.get("Cache-Control"))
        assert {"authorization", "cookie"} <= directives(answer, "Vary"), \
            (how, what, answer.headers.get("Vary"))

    # a public, active dataset's manifest is the same for everyone:
    # cacheable and conditional
    patched = requests.post(
        f"{site.url}/api/3/action/package_patch", timeout=30,
        json={"id": pid, "private": False},
        headers={"Authorization": token})
    assert patched.status_code == 200, patched.text[:300]
    public = requests.get(f"{site.url}/dataset/{pid}/manifest.sha256",
                          timeout=30)
    assert public.status_code == 200 and by_depot["sha256"] in public.text
    assert {"public", "max-age"} <= directives(public, "Cache-Control")
    assert "no-store" not in directives(public, "Cache-Control")
    assert public.headers["ETag"]
    again = requests.get(f"{site.url}/dataset/{pid}/manifest.sha256",
                         headers={"If-None-Match": public.headers["ETag"]},
                         timeout=30)
    assert again.status_code == 304 and again.content == b""
    member = cookie.get(f"{site.url}/dataset/{pid}/manifest.sha256",
                        timeout=30)
    assert member.text == public.text


def test_a_cache_keeps_no_api_answer_read_with_a_token(deployment):
    """CKAN calls an API answer public; one read with a token is the
    caller's own (a private dataset's names and checksums)."""
    site = deployment(processes=1, threads=2, workers=0, settings={
        "ckan.cache_expires": "600"})
    user = factories.User()
    circle = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    dataset = factories.Dataset(owner_org=circle["id"], private=True,
                                user=user, notes="secret-notes-text")
    token = factories.APIToken(user=user["name"])["token"]
    url = f"{site.url}/api/3/action/package_show?id={dataset['id']}"
    for _ in range(2):
        member = requests.get(url, headers={"Authorization": token},
                              timeout=30)
        assert member.status_code == 200
    assert "private" in directives(member, "Cache-Control")
    assert "public" not in directives(member, "Cache-Control")
    assert {"authorization", "cookie"} <= directives(member, "Vary")
    anonymous = requests.get(url, timeout=30)
    assert anonymous.status_code == 403
    assert "secret-notes-text" not in anonymous.text
