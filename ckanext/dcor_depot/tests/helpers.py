"""Shared test helpers: circles, datasets and uploads through the real API."""
from __future__ import annotations

import hashlib
import io
import os
import signal
import time
import xml.sax.saxutils

import requests

import ckan.plugins.toolkit as tk
from ckan.tests import factories

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                          "migration", "dcor_depot", "alembic.ini")


def upgrade_depot_tables() -> None:
    """This extension's own tables (its Alembic migrations). CKAN's reset
    of the test database drops every table and runs only core migrations;
    CKAN's migrate_db_for needs the plugin loaded, which with_plugins does
    only after the reset."""
    import alembic.command
    import alembic.config

    settings = alembic.config.Config(MIGRATIONS)
    settings.set_main_option("sqlalchemy.url", tk.config["sqlalchemy.url"])
    alembic.command.upgrade(settings, "head")


def make_circle_and_user(private=True, state="active"):
    user = factories.User()
    circle = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    dataset = factories.Dataset(owner_org=circle["id"], private=private,
                                state=state, user=user)
    token = factories.APIToken(user=user["name"])["token"]
    return user, circle, dataset, token


def write_random_file(path, size, seed=0):
    """A file of `size` pseudo-random bytes, written in chunks."""
    digest = hashlib.sha256()
    block = hashlib.sha256(str(seed).encode()).digest() * (1024 * 32)
    with open(path, "wb") as handle:
        left = size
        counter = 0
        while left:
            chunk = (block[counter % 7:] + block[:counter % 7])[:left]
            handle.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
            counter += 1
    return digest.hexdigest()


def upload_resource(app, token, dataset_id, data: bytes, name="cells.rtdc"):
    """resource_create with a multipart form upload, as a browser does."""
    response = app.post(
        "/api/3/action/resource_create",
        data={"package_id": dataset_id, "name": name,
              "upload": (io.BytesIO(data), name)},
        headers={"Authorization": token},
        content_type="multipart/form-data")
    assert response.status_code == 200, response.body
    return response.json["result"]


def upload_resource_file(app, token, dataset_id, path, name="cells.rtdc"):
    with open(path, "rb") as handle:
        response = app.post(
            "/api/3/action/resource_create",
            data={"package_id": dataset_id, "name": name,
                  "upload": (handle, name)},
            headers={"Authorization": token},
            content_type="multipart/form-data")
    assert response.status_code == 200, response.body
    return response.json["result"]


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 1024**2):
            digest.update(chunk)
    return digest.hexdigest()


def files_below(folder):
    return sorted(os.path.join(root, name)
                  for root, _, names in os.walk(folder) for name in names)


def parts_in_flight(s3_client, bucket):
    """True once some multipart upload into `bucket` has parts on the
    server. An upload may complete or be aborted between the two calls."""
    try:
        uploads = s3_client.list_multipart_uploads(
            Bucket=bucket).get("Uploads", [])
    except s3_client.exceptions.NoSuchBucket:
        return False
    for upload in uploads:
        try:
            if s3_client.list_parts(Bucket=bucket, Key=upload["Key"],
                                    UploadId=upload["UploadId"]).get("Parts"):
                return True
        except s3_client.exceptions.ClientError:
            continue  # completed or aborted meanwhile
    return False


def kill_when(process, condition, timeout=300):
    """SIGKILL a process started in a session of its own (and its group:
    work horses, threads) as soon as condition() holds.

    The process runs in short steps between SIGSTOPs, and the condition
    is checked while it is stopped: it cannot run past the state the
    condition saw while this test waits for the CPU (in CI, under load, a
    worker once finished its upload between the check and the kill)."""
    deadline = time.monotonic() + timeout
    try:
        os.killpg(process.pid, signal.SIGSTOP)
        while time.monotonic() < deadline:
            if condition():
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
                return
            assert process.poll() is None, "process ended before the kill"
            os.killpg(process.pid, signal.SIGCONT)
            time.sleep(0.02)
            os.killpg(process.pid, signal.SIGSTOP)
        raise AssertionError("condition never held")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


# A client of direct uploads, with plain HTTP

def ask_urls(app, token, organization_id, file_size, status=200):
    response = app.post("/api/3/action/resource_upload_s3_urls",
                        json={"organization_id": organization_id,
                              "file_size": file_size},
                        headers={"Authorization": token} if token else {})
    assert response.status_code == status, response.body
    return response.json


def client_upload(urls, data: bytes):
    """What a DCOR client does with the URLs of resource_upload_s3_urls."""
    if urls["complete_url"] is None:
        assert len(urls["upload_urls"]) == 1
        response = requests.put(urls["upload_urls"][0], data=data, timeout=60)
        assert response.status_code == 200, response.text
        return
    parts = []
    size = urls["part_size"]
    for number, url in enumerate(urls["upload_urls"], start=1):
        chunk = data[(number - 1) * size:number * size]
        response = requests.put(url, data=chunk, timeout=60)
        assert response.status_code == 200, response.text
        parts.append((number, response.headers["ETag"]))
    body = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>"
        f"{xml.sax.saxutils.escape(etag)}</ETag></Part>"
        for n, etag in parts) + "</CompleteMultipartUpload>"
    response = requests.post(urls["complete_url"], data=body, timeout=60)
    assert response.status_code == 200, response.text


def create_s3_resource(app, token, dataset_id, rid, name="cells.rtdc",
                       status=200):
    response = app.post("/api/3/action/resource_create",
                        json={"package_id": dataset_id, "id": rid,
                              "url": name, "name": name,
                              "url_type": "s3_upload"},
                        headers={"Authorization": token})
    assert response.status_code == status, response.body
    return response.json


def upload_directly(app, token, circle_id, dataset_id, data: bytes):
    """Ask for URLs, upload `data` and create the resource; its id."""
    urls = ask_urls(app, token, circle_id, len(data))["result"]
    client_upload(urls, data)
    create_s3_resource(app, token, dataset_id, urls["resource_id"])
    return urls["resource_id"]


def page_cache_bytes(path) -> int | None:
    """Bytes of a file in the page cache (util-linux `fincore`), or None
    where that cannot be told or where the cache cannot be dropped
    (tmpfs keeps files in it)."""
    import shutil
    import subprocess

    kind = subprocess.run(["stat", "-f", "-c", "%T", str(path)],
                          capture_output=True, text=True).stdout.strip()
    if not shutil.which("fincore") or kind in ("tmpfs", "ramfs", ""):
        return None
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output",
                          "RES", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return int(out.strip())
