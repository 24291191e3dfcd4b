"""The main job of ckanext-dcor_depot, end to end, as a user's client does it.

Talks to a running CKAN site (scripts/demo.sh starts one behind nginx) over
HTTP only. The storage half: creates a circle and a private dataset, uploads
a file through the CKAN API, uploads a second one straight to S3 with
presigned URLs, appends a third with `ckan append-resource`, imports a
figshare article from the bundled local fixture and makes the dataset
public. After each step it prints where the file lives and checks it: the
symlink at CKAN's path, the depot file's sha256, the S3 object's bytes and
sha256 tag, and an anonymous GET (403 while private, 200 once public)
(storage_steps.py). The download half (download_checks.py) then fetches it
all back as a user does, and an operator runs ckan dcor-depot-doctor.
Every check is numbered; exits 1 if any fails.

    python scripts/demo/demo.py --ini .stack/demo/demo.ini \
        --token-file .stack/demo/admin-token --ckan .venv-.../bin/ckan \
        --uwsgi-url http://127.0.0.1:PORT
"""
from __future__ import annotations

import argparse
import configparser
import datetime
import os
import pathlib
import subprocess
import sys
import time
from typing import Any, Callable

import boto3
import requests
from botocore.config import Config

from download_checks import DownloadChecks
from storage_steps import StorageSteps


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

        dataset, circle = StorageSteps(self, stamp).run(
            upload_mb, direct_mb, append_mb)

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
