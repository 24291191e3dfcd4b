"""The demo's storage half: a circle and a private dataset, an upload
through resource_create, a direct upload to S3, ckan append-resource, a
figshare import, the dataset made public; after each, where every file
lives and whether its copies are right (the depot file, the object, its
tags, an anonymous GET)."""
from __future__ import annotations

import hashlib
import os
import pathlib
import time
from typing import Any

import requests

from ckanext.dcor_depot import naming

from figshare_fixture import FIXTURE, FigshareFixture
from transfers import MultipartForm, put_presigned

FIGSHARE_DOI = "10.6084/m9.figshare.90000001.v1"
CHUNK = 4 * 1024**2
MB = 1e6


class StorageSteps:
    """Steps 2 to 7; the demo's tally, API and settings are its own
    (attributes not found here are the demo's)."""

    def __init__(self, demo: Any, stamp: str) -> None:
        self.demo = demo
        self.stamp = stamp

    def __getattr__(self, name: str) -> Any:
        return getattr(self.demo, name)

    def resource_done(self, rid: str) -> dict[str, Any] | None:
        resource = self.action("resource_show", {"id": rid})
        if resource.get("s3_available") and resource.get("sha256") \
                and os.path.islink(naming.resource_path(self.storage_path,
                                                        rid)):
            return resource
        return None

    # the checks every file gets
    def check_resource(self, resource: dict[str, Any], local: pathlib.Path,
                       depot_below: str, public: bool) -> None:
        rid = resource["id"]
        sha256 = file_sha256(local)
        size = local.stat().st_size
        self.show("resource", f"{rid}  {resource.get('name')}  "
                              f"{size / MB:.1f} MB")
        self.check(resource.get("sha256") == sha256
                   and resource.get("size") == size,
                   f"resource fields: sha256 {sha256[:16]}..., size {size}")
        link = naming.resource_path(self.storage_path, rid)
        if self.check(os.path.islink(link), f"CKAN's path is a symlink: "
                                            f"{self.relative(link)}"):
            target = os.readlink(link)
            self.show("->", self.relative(target))
            self.check(target.startswith(depot_below + os.sep),
                       f"in the depot below {self.relative(depot_below)}")
            self.check(os.path.isfile(target)
                       and file_sha256(pathlib.Path(target)) == sha256,
                       "depot file's sha256 matches the uploaded file")
        s3_url = resource.get("s3_url") or ""
        bucket, _, key = s3_url[len(self.endpoint) + 1:].partition("/")
        self.show("s3", f"s3://{bucket}/{key}")
        self.check(key == naming.object_key("resource", rid),
                   "object key follows resource/RES/OUR/CEID")
        tags = {t["Key"]: t["Value"] for t in self.s3.get_object_tagging(
            Bucket=bucket, Key=key)["TagSet"]}
        self.check(tags.get("sha256") == sha256, "object's sha256 tag matches")
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(CHUNK), b""):
            digest.update(chunk)
        self.check(digest.hexdigest() == sha256,
                   "object's bytes match (downloaded and hashed)")
        self.check_anonymous(s3_url, public)

    def check_anonymous(self, s3_url: str, public: bool) -> None:
        status = anonymous_status(s3_url)
        want = 200 if public else 403
        self.check(status == want,
                   f"anonymous GET {s3_url} -> {status} "
                   f"({'public' if public else 'private'}, want {want})")

    def run(self, upload_mb: int, direct_mb: int,
            append_mb: int) -> tuple[dict[str, Any], dict[str, Any]]:
        stamp = self.stamp
        big = demo_file(self.files / "cells-upload.rtdc", upload_mb)
        direct = demo_file(self.files / "cells-direct.rtdc", direct_mb)
        extra = demo_file(self.files / "cells-append.rtdc", append_mb)
        user_depot = os.path.join(self.depots_path, self.users_depot)

        self.step("a circle and a private dataset")
        circle = self.action("organization_show", {"id": "demo-circle"},
                             raise_error=False) or self.action(
            "organization_create", {"name": "demo-circle",
                                    "title": "Demo circle"})
        self.show("circle", f"{circle['name']} ({circle['id']})")
        dataset = self.action("package_create", {
            "name": f"demo-{stamp}", "title": f"Demo dataset {stamp}",
            "owner_org": circle["id"], "private": True,
            "license_id": "cc-by", "notes": "made by scripts/demo.sh"})
        self.show("dataset", f"{dataset['name']} ({dataset['id']}), "
                             f"private")

        self.step(f"upload {big.stat().st_size / MB:.0f} MB through "
                  "resource_create (multipart form, as ckanapi does)")
        start = time.perf_counter()
        body = MultipartForm({"package_id": dataset["id"],
                              "name": big.name}, "upload", big)
        created = self.action("resource_create", files=body,
                              headers={"Content-Type": body.content_type})
        self.show("request", f"{time.perf_counter() - start:.1f} s "
                             "(the request only stores and enqueues)")
        resource = self.wait_for("the worker moves and uploads it",
                                 lambda: self.resource_done(created["id"]))
        self.show("worker", f"done {time.perf_counter() - start:.1f} s "
                            "after the upload began")
        if resource:
            self.check_resource(resource, big, user_depot, public=False)
            response = self.http.get(resource["url"], stream=True, timeout=60)
            digest = hashlib.sha256()
            for chunk in response.iter_content(CHUNK):
                digest.update(chunk)
            self.check(response.status_code == 200
                       and digest.hexdigest() == resource["sha256"],
                       "still downloads through CKAN with the same bytes")

        self.step(f"upload {direct.stat().st_size / MB:.0f} MB straight to "
                  "S3 with presigned URLs (resource_upload_s3_urls)")
        urls = self.action("resource_upload_s3_urls", {
            "organization_id": circle["id"],
            "file_size": direct.stat().st_size})
        self.show("urls", f"{len(urls['upload_urls'])} part(s) of "
                          f"{urls['part_size'] / MB:.0f} MB")
        put_presigned(urls, direct)
        created = self.action("resource_create", {
            "package_id": dataset["id"], "id": urls["resource_id"],
            "name": direct.name, "url": direct.name,
            "url_type": "s3_upload"})
        resource = self.wait_for("the worker backs it up to the depot",
                                 lambda: self.resource_done(created["id"]))
        if resource:
            self.check_resource(resource, direct, user_depot, public=False)

        self.step("append a file with ckan append-resource")
        done = self.run_ckan("append-resource", str(extra), dataset["id"])
        if self.check(done.returncode == 0, "append-resource exits 0"):
            shown = self.action("package_show", {"id": dataset["id"]})
            matches = [r for r in shown["resources"]
                       if r["name"] == extra.name]
            if self.check(len(matches) == 1, "one resource was appended"):
                self.check_resource(matches[0], extra, user_depot,
                                    public=False)

        self.step("import a figshare article from the bundled local fixture")
        with FigshareFixture(self.figshare_url):
            done = self.run_ckan("import-figshare", "--doi", FIGSHARE_DOI)
        if self.check(done.returncode == 0, "import-figshare exits 0"):
            name = "figshare-90000001-v1"
            imported = self.action("package_show", {"id": name})
            self.show("dataset", f"{name}: {imported['state']}, "
                                 f"{'private' if imported['private'] else 'public'}")
            figshare_depot = os.path.join(self.depots_path, "figshare")
            for resource in imported["resources"]:
                self.check_resource(resource,
                                    FIXTURE / "files" / resource["name"],
                                    figshare_depot, public=True)

        self.step("make the dataset public")
        self.action("package_patch", {"id": dataset["id"],
                                      "private": False})
        shown = self.action("package_show", {"id": dataset["id"]})
        for resource in shown["resources"]:
            url = resource["s3_url"]
            self.wait_for(f"{resource['name']} becomes public",
                          lambda: anonymous_status(url) == 200, timeout=120)
            self.check_anonymous(url, public=True)
        return dataset, circle


def anonymous_status(url: str) -> int:
    with requests.get(url, stream=True, timeout=30) as response:
        return response.status_code


def file_sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def demo_file(path: pathlib.Path, size_mb: int) -> pathlib.Path:
    """Random bytes, written once and kept for the next run."""
    size = size_mb * 1_000_000
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as handle:
        left = size
        while left:
            handle.write(os.urandom(min(left, CHUNK)))
            left -= min(left, CHUNK)
    partial.rename(path)
    return path

