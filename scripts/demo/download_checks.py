"""The demo's download half: the dataset comes back out over HTTP through
nginx as a user fetches it, with the tools a user has (curl, sha256sum,
unzip, tar, the dcor-depot client), and every byte is checked.

Steps: the manifest with `sha256sum -c`; zip and tar archives, the zip cut
short and resumed with `curl -C -`; a depot download that nginx sends
(X-Accel-Redirect) with a Range; a download list and its archive;
`dcor-depot download` and `dcor-depot upload` of a folder, round trip.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import pathlib
import re
import shutil
import subprocess
import tarfile
import zipfile
from typing import Any

import requests

CHUNK = 4 * 1024**2
FIGSHARE_DATASET = "figshare-90000001-v1"


def sha256_of(stream: Any) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


class DownloadChecks:
    def __init__(self, demo: Any, dataset: dict[str, Any],
                 circle: dict[str, Any], stamp: str) -> None:
        self.demo = demo
        self.dataset = demo.action("package_show", {"id": dataset["id"]})
        self.circle = circle
        self.stamp = stamp
        self.work = demo.files / f"downloads-{stamp}"
        self.auth = ["-H", f"Authorization: {demo.token}"]
        manifest = demo.action("dataset_manifest", {"id": dataset["id"]})
        # manifest path -> sha256, as the site recorded it
        self.expected = {item["path"]: item["sha256"]
                         for item in manifest["files"]}

    def run(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        try:
            self.manifest_and_sha256sum()
            self.archives()
            self.depot_download()
            self.download_list()
            self.client_round_trip()
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    # tools
    def url(self, path: str) -> str:
        return f"{self.demo.site}{path}"

    def run_tool(self, *argv: str, cwd: pathlib.Path | None = None,
                 env: dict[str, str] | None = None,
                 quiet: bool = False) -> subprocess.CompletedProcess:
        shown = ["<token>" if a.startswith("Authorization:") else a
                 for a in argv]
        self.demo.show("$", " ".join(shown))
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                              env={**os.environ, **(env or {})})
        lines = (done.stdout + done.stderr).strip().splitlines()
        for line in ([] if quiet else lines[-3:]):
            self.demo.show("", line[:150])
        return done

    def check_members(self, names_and_hashes: dict[str, str],
                      expected: dict[str, str], what: str) -> None:
        """The archive's members are the manifest's paths with their bytes,
        and MANIFEST.sha256 comes last."""
        names = list(names_and_hashes)
        self.demo.check(names[-1:] == ["MANIFEST.sha256"] and
                        {n: h for n, h in names_and_hashes.items()
                         if n != "MANIFEST.sha256"} == expected,
                        f"{what}: {len(expected)} files, every member's "
                        "sha256 as recorded, MANIFEST.sha256 last")

    # 1. manifest.sha256 and sha256sum -c
    def manifest_and_sha256sum(self) -> None:
        demo, name = self.demo, self.dataset["name"]
        demo.step("fetch manifest.sha256 and check a download with "
                  "sha256sum -c")
        folder = self.work / "manifest"
        folder.mkdir()
        got = self.run_tool("curl", "-fsS", *self.auth, "-o",
                            str(folder / "manifest.sha256"),
                            self.url(f"/dataset/{name}/manifest.sha256"))
        csv_text = demo.http.get(self.url(f"/dataset/{name}/manifest.csv"),
                                 timeout=60).text
        rows = list(csv.DictReader(io.StringIO(csv_text)))
        if not demo.check(got.returncode == 0 and len(rows) == len(
                self.expected), f"manifest.sha256 and manifest.csv list "
                                f"{len(self.expected)} files"):
            return
        for row in rows:
            target = folder / row["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.run_tool("curl", "-fsSL", *self.auth, "-o", str(target),
                          row["url"], quiet=True)
        checked = self.run_tool("sha256sum", "-c", "manifest.sha256",
                                cwd=folder)
        demo.check(checked.returncode == 0 and checked.stdout.count(": OK")
                   == len(rows), f"sha256sum -c: {len(rows)} files OK")
        shutil.rmtree(folder)

    # 2. zip and tar, the zip cut short and resumed
    def archives(self) -> None:
        demo = self.demo
        demo.step("download the dataset as zip (cut short, resumed with "
                  "curl -C -) and as tar")
        url = self.url(f"/dataset/{self.dataset['id']}/archive")
        zipped = self.work / "dataset.zip"
        with demo.http.get(url, params={"comptype": "zip"}, stream=True,
                           timeout=60) as response:
            total = int(response.headers.get("Content-Length", 0))
            cut_at = total // 3
            with open(zipped, "wb") as out:
                for chunk in response.iter_content(1024**2):
                    out.write(chunk)
                    if out.tell() >= cut_at:
                        break
        # closing the stream here drops the connection: a broken download
        demo.check(0 < zipped.stat().st_size < total,
                   f"zip cut short at {zipped.stat().st_size} of {total} "
                   "bytes")
        resumed = self.run_tool(
            "curl", "-sS", "-C", "-", *self.auth, "-o", str(zipped), "-w",
            "%{http_code}", url + "?comptype=zip")
        demo.check(resumed.returncode == 0 and resumed.stdout.endswith("206")
                   and zipped.stat().st_size == total,
                   f"curl -C - resumed it (HTTP 206) to {total} bytes")
        tested = self.run_tool("unzip", "-t", str(zipped))
        demo.check(tested.returncode == 0 and "No errors detected"
                   in tested.stdout, "unzip -t: no errors")
        with zipfile.ZipFile(zipped) as archive:
            members = {info.filename: sha256_of(archive.open(info))
                       for info in archive.infolist()}
        self.check_members(members, self.expected, "zip")
        zipped.unlink()

        tarred = self.work / "dataset.tar"
        got = self.run_tool("curl", "-fsS", *self.auth, "-o", str(tarred),
                            url + "?comptype=tar")
        listed = self.run_tool("tar", "-tf", str(tarred), quiet=True)
        demo.check(got.returncode == 0 and listed.returncode == 0 and
                   listed.stdout.split() == list(self.expected) +
                   ["MANIFEST.sha256"],
                   f"tar -t lists the {len(self.expected)} files and "
                   "MANIFEST.sha256")
        with tarfile.open(tarred) as archive:
            members = {info.name: sha256_of(archive.extractfile(info))
                       for info in archive if info.isfile()}
        self.check_members(members, self.expected, "tar")
        tarred.unlink()

    # 3. a depot download sent by nginx
    def depot_download(self) -> None:
        demo = self.demo
        resource = max(self.dataset["resources"], key=lambda r: r["size"])
        demo.step("download a resource through the depot provider: nginx "
                  "sends it (X-Accel-Redirect), with a Range")
        path = (f"/dataset/{self.dataset['id']}/resource/{resource['id']}"
                "/download")
        headers = {"Authorization": demo.token}
        internal = "/_dcor_storage/"
        if demo.uwsgi_url:
            inner = requests.get(demo.uwsgi_url + path, headers=headers,
                                 timeout=60)
            internal = inner.headers.get("X-Accel-Redirect") or internal
            demo.show("uWSGI", f"X-Accel-Redirect: {internal}")
            demo.check(inner.status_code == 200 and not inner.content and
                       inner.headers.get("X-Accel-Redirect", "").startswith(
                           "/"), "CKAN (uWSGI) hands the file to nginx: "
                                 "X-Accel-Redirect, empty body")
        size = resource["size"]
        start = size // 2
        end = min(size - 1, start + 10 * 1024**2 - 1)
        answer = requests.get(self.url(path), timeout=60, headers={
            **headers, "Range": f"bytes={start}-{end}"})
        local = demo.files / resource["name"]
        with open(local, "rb") as handle:
            handle.seek(start)
            want = handle.read(end - start + 1)
        demo.check(answer.status_code == 206 and answer.headers.get(
            "Content-Range") == f"bytes {start}-{end}/{size}" and
                   answer.content == want and answer.headers.get(
            "Server", "").startswith("nginx") and
                   "X-Accel-Redirect" not in answer.headers,
                   f"nginx answers Range bytes={start}-{end}: 206 with "
                   "the file's bytes")
        hidden = requests.get(self.url(internal), timeout=30)
        demo.check(hidden.status_code == 404,
                   f"{internal} is internal: 404 from outside")

    # 4. a download list and its archive
    def download_list(self) -> None:
        demo = self.demo
        demo.step("put files of two datasets on the download list and "
                  "fetch its archive")
        demo.action("download_list_clear", {})
        name = f"demo-list-{self.stamp}"
        demo.action("download_list_add", {"dataset_id": self.dataset["id"]})
        demo.action("download_list_add", {"dataset_id": FIGSHARE_DATASET})
        demo.action("download_list_rename", {"name": name})
        listing = demo.action("download_list_show", {})
        expected = dict(self.expected)
        figshare = demo.action("dataset_manifest", {"id": FIGSHARE_DATASET})
        expected.update({f["path"]: f["sha256"] for f in figshare["files"]})
        demo.check(listing["count"] == len(expected),
                   f"the list holds {len(expected)} files of 2 datasets")
        page = demo.http.get(self.url("/dashboard/download-list"),
                             timeout=60)
        form = page.text[page.text.find('class="dcor-download'):]
        ids = re.findall(r'name="resource" value="([^"]+)"', form)
        demo.check(page.status_code == 200 and len(ids) == len(expected),
                   "the list page offers them in its Download form")
        archive = self.work / "list.zip"
        with demo.http.post(self.url("/download/archive"), data={
                "resource": ids, "name": name, "comptype": "zip"},
                stream=True, timeout=60) as response:
            with open(archive, "wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
        disposition = response.headers.get("Content-Disposition", "")
        tested = self.run_tool("unzip", "-t", str(archive))
        demo.check(response.status_code == 200 and f"{name}.zip" in
                   disposition and tested.returncode == 0,
                   f"{name}.zip: unzip -t passes")
        with zipfile.ZipFile(archive) as opened:
            members = {info.filename: sha256_of(opened.open(info))
                       for info in opened.infolist()}
        self.check_members(members, expected, "the list's zip")
        archive.unlink()
        demo.action("download_list_clear", {})

    # 5. dcor-depot download and upload, round trip
    def client_round_trip(self) -> None:
        demo = self.demo
        demo.step("dcor-depot download, then dcor-depot upload of that "
                  "folder as a new dataset, downloaded again")
        client = str(pathlib.Path(demo.ckan).with_name("dcor-depot"))
        env = {"DCOR_SITE": demo.site, "DCOR_API_TOKEN": demo.token}
        name = self.dataset["name"]
        first = self.work / "first"
        got = self.run_tool(client, "download", name, str(first), env=env)
        folder = first / name
        checked = self.run_tool("sha256sum", "-c", "MANIFEST.sha256",
                                cwd=folder, quiet=True)
        demo.check(got.returncode == 0 and checked.returncode == 0,
                   f"dcor-depot download: {len(self.expected)} files, "
                   "sha256sum -c MANIFEST.sha256 passes")
        copy = f"{name}-copy"
        sent = self.run_tool(client, "upload", self.circle["name"], copy,
                             str(folder), "--title", f"Copy of {name}",
                             env=env)
        if not demo.check(sent.returncode == 0,
                          f"dcor-depot upload {copy}: exits 0"):
            return
        demo.wait_for("the site verified the uploaded copy", lambda:
                      demo.action("dataset_manifest", {"id": copy})
                      ["complete"], timeout=600)
        second = self.work / "second"
        got = self.run_tool(client, "download", copy, str(second), env=env)
        originals = {p.name: sha256_of(open(p, "rb"))
                     for p in sorted(folder.iterdir())}
        copies = {p.name: sha256_of(open(p, "rb"))
                  for p in sorted((second / copy).iterdir())}
        demo.check(got.returncode == 0 and copies == originals,
                   f"round trip: the {len(originals)} files downloaded "
                   "from the copy equal those uploaded")
