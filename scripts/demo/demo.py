"""The main job of ckanext-dcor_depot, end to end, as a user's client does it.

Talks to a running CKAN site (scripts/demo.sh starts one behind nginx) over
HTTP only. The storage half: creates a circle and a private dataset, uploads
a file through the CKAN API, uploads a second one straight to S3 with
presigned URLs, appends a third with `ckan append-resource`, imports a
figshare article from the bundled local fixture and makes the dataset
public. After each step it prints where the file lives and checks it: the
symlink at CKAN's path, the depot file's sha256, the S3 object's bytes and
sha256 tag, and an anonymous GET (403 while private, 200 once public). The
download half (download_checks.py) then fetches it all back as a user does.
Every check is numbered; exits 1 if any fails.

    python scripts/demo/demo.py --ini .stack/demo/demo.ini \
        --token-file .stack/demo/admin-token --ckan .venv-.../bin/ckan \
        --uwsgi-url http://127.0.0.1:PORT
"""
from __future__ import annotations

import argparse
import configparser
import datetime
import hashlib
import os
import pathlib
import subprocess
import sys
import time
from typing import Any, Callable

import boto3
import requests
from botocore.config import Config

from ckanext.dcor_depot import naming

from download_checks import DownloadChecks
from figshare_fixture import FIXTURE, FigshareFixture
from transfers import MultipartForm, put_presigned

FIGSHARE_DOI = "10.6084/m9.figshare.90000001.v1"
CHUNK = 4 * 1024**2
MB = 1e6


class Demo:
    """Steps, checks and their tally."""

    def __init__(self, ini: pathlib.Path, token: str, ckan: str,
                 files: pathlib.Path, uwsgi_url: str | None = None) -> None:
        parser = configparser.ConfigParser(interpolation=None,
                                           strict=False)
        parser.read(ini)
        app = parser["app:main"]
        self.ini = ini
        self.token = token
        self.uwsgi_url = (uwsgi_url or "").rstrip("/")
        self.ckan = ckan
        self.files = files
        self.site = app["ckan.site_url"].rstrip("/")
        self.storage_path = app["ckan.storage_path"]
        self.depots_path = app["ckanext.dcor_depot.depots_path"]
        self.users_depot = app["ckanext.dcor_depot.users_depot_name"]
        self.endpoint = app["dcor_object_store.endpoint_url"].rstrip("/")
        self.figshare_url = app["ckanext.dcor_depot.figshare_api_url"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = token
        self.s3 = boto3.client(
            "s3", endpoint_url=self.endpoint,
            aws_access_key_id=app["dcor_object_store.access_key_id"],
            aws_secret_access_key=app["dcor_object_store.secret_access_key"],
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}))
        self.failures: list[str] = []
        self.checks = 0
        self.step_number = 0

    # output and tally
    def step(self, title: str) -> None:
        self.step_number += 1
        print(f"\n[{self.step_number}] {title}", flush=True)

    def show(self, label: str, text: str) -> None:
        print(f"    {label:<10}{text}", flush=True)

    def check(self, ok: bool, what: str) -> bool:
        self.checks += 1
        print(f"    {'ok' if ok else 'FAIL':<6}{self.checks:>3}. {what}",
              flush=True)
        if not ok:
            self.failures.append(what)
        return ok

    def relative(self, path: str) -> str:
        try:
            return os.path.relpath(path)
        except ValueError:
            return path

    # CKAN API
    def action(self, name: str, data: dict[str, Any] | None = None,
               files: Any = None, raise_error: bool = True,
               **kwargs: Any) -> Any:
        url = f"{self.site}/api/3/action/{name}"
        if files is not None:
            response = self.http.post(url, data=files, timeout=3600,
                                      **kwargs)
        elif data is None:
            response = self.http.get(url, timeout=60)
        else:
            response = self.http.post(url, json=data, timeout=60)
        try:
            body = response.json()
        except ValueError:
            raise SystemExit(f"{name}: HTTP {response.status_code}, not "
                             f"JSON: {response.text[:200]!r}") from None
        if not body.get("success"):
            if raise_error:
                raise SystemExit(f"{name} failed: {body.get('error')}")
            return None
        return body["result"]

    def wait_for(self, what: str, probe: Callable[[], Any],
                 timeout: float = 600) -> Any:
        """Poll until probe() returns something true; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                self.check(False, f"{what} within {timeout:.0f} s")
                return None
            time.sleep(0.5)

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

    def run_ckan(self, *args: str,
                 tail: int = 4) -> subprocess.CompletedProcess:
        command = [self.ckan, "-c", str(self.ini), *args]
        print(f"    $ ckan {' '.join(args)}", flush=True)
        done = subprocess.run(command, capture_output=True, text=True)
        for line in done.stdout.strip().splitlines()[-tail:]:
            self.show("", line)
        if done.returncode:
            errors = done.stderr.strip().splitlines()
            self.show("stderr", errors[-1] if errors else "")
        return done

    # the steps
    def run(self, upload_mb: int, direct_mb: int, append_mb: int) -> int:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y%m%d-%H%M%S")
        big = demo_file(self.files / "cells-upload.rtdc", upload_mb)
        direct = demo_file(self.files / "cells-direct.rtdc", direct_mb)
        extra = demo_file(self.files / "cells-append.rtdc", append_mb)
        user_depot = os.path.join(self.depots_path, self.users_depot)

        self.step("the site: nginx in front of uWSGI")
        front = self.http.get(f"{self.site}/api/3/action/status_show",
                              timeout=60)
        self.check(front.status_code == 200 and front.headers.get(
            "Server", "").startswith("nginx"),
            f"{self.site} answers through {front.headers.get('Server')}")
        if self.uwsgi_url:
            inner = requests.get(f"{self.uwsgi_url}/api/3/action/"
                                 "status_show", timeout=60)
            self.check(inner.status_code == 200,
                       f"uWSGI answers behind it on {self.uwsgi_url}")

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

        DownloadChecks(self, dataset, circle, stamp).run()

        self.step("an operator's check: ckan dcor-depot-doctor")
        done = self.run_ckan("dcor-depot-doctor", "--nginx-conf",
                             str(self.ini.parent / "deploy" / "nginx.conf"),
                             tail=20)
        self.check(done.returncode == 0, "every check of the doctor passes")

        print(f"\n{self.checks - len(self.failures)} of {self.checks} "
              f"checks passed", flush=True)
        for failure in self.failures:
            print(f"FAILED: {failure}")
        return 1 if self.failures else 0


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ini", required=True, type=pathlib.Path)
    parser.add_argument("--token-file", required=True, type=pathlib.Path)
    parser.add_argument("--ckan", required=True)
    parser.add_argument("--files", type=pathlib.Path,
                        help="where the demo's files are kept "
                             "(default: next to the ini)")
    parser.add_argument("--uwsgi-url",
                        help="uWSGI's own socket behind nginx, to show the "
                             "X-Accel-Redirect hand-over")
    parser.add_argument("--upload-mb", type=int, default=300)
    parser.add_argument("--direct-mb", type=int, default=100)
    parser.add_argument("--append-mb", type=int, default=20)
    args = parser.parse_args(argv)
    for name in ("upload_mb", "direct_mb", "append_mb"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        token = args.token_file.read_text().strip()
    except OSError as exc:
        parser.error(f"--token-file: {exc}")
    if not token:
        parser.error(f"--token-file {args.token_file} is empty")
    if not args.ini.is_file():
        parser.error(f"--ini {args.ini}: no such file")
    try:
        demo = Demo(args.ini, token, args.ckan,
                    args.files or args.ini.parent / "files", args.uwsgi_url)
    except KeyError as exc:
        parser.error(f"--ini {args.ini}: no [app:main] setting {exc}")
    return demo.run(args.upload_mb, args.direct_mb, args.append_mb)


if __name__ == "__main__":
    sys.exit(main())
