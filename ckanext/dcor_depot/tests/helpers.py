"""Shared test helpers: circles, datasets and uploads through the real API."""
from __future__ import annotations

import hashlib
import io
import os

from ckan.tests import factories


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
