"""Maintenance at the scale of a large site: each maintenance command at
100,000 resources against the same command at 10,000, in time and in peak
memory, on one site built in the same run.

The site is what a site of healthy direct uploads holds: datasets of 10
resources (url_type s3_upload, size 0, sha256 and crc32 set, s3_url
naming the object) in circles of 10,000 resources each; per resource an
empty object in the circle's bucket, tagged with its sha256 (private),
its record in the accounting table, an empty file in the user depot and
CKAN's symlink to it. Rows go into PostgreSQL in bulk, objects into the
S3 server of test.ini from a thread pool. The site first has one circle
(10,000 resources); every command runs; then nine more circles are added
(100,000) and every command runs again. Each command is a subprocess
(`ckan -c INI ...`); its wall time and its peak RSS come from
os.wait4. The baseline of both is `ckan -c INI jobs list`, a command that
loads the same CKAN and does nothing per resource. The time ratio and
the memory ratio are taken as measured (wall time and peak RSS of the
whole process); the time ratio net of the baseline is printed too, but on
a shared machine the start-up time varies by seconds between runs, which
makes it noisy for the quick commands.

The latency rows of the same issue (circle_storage_show of a circle of
10,000 resources, the /metrics scrape at 100,000, the quota check of
resource_upload_s3_urls) are measured by bench_storage.py.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_scale.py
        [--small 10000] [--large 100000] [--json PATH] [--keep]
        [--only COMMAND ...]

It uses its own database (dcor_depot_bench_scale, created when missing)
and removes its buckets at the end unless --keep is given.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import uuid

import benchdb
from benchdb import CKAN, REPO, ckan

FILES_PER_DATASET = 10
CIRCLE_SIZE = 10_000
ADMIN = "benchscale"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# linear with a margin of a tenth: 11x for 100,000 against 10,000
TIME_MARGIN = 1.1
TARGET_MEMORY_RATIO = 1.2
PUT_THREADS = 32

# name, arguments, the summary line's start
COMMANDS = [
    ("run-jobs-dcor-depot", ["run-jobs-dcor-depot"], "checked "),
    ("dcor-depot-verify", ["dcor-depot-verify"], "checked "),
    ("dcor-depot-orphans", ["dcor-depot-orphans", "--min-age-hours", "0"],
     "checked "),
    ("dcor-depot-reconcile-visibility",
     ["dcor-depot-reconcile-visibility", "--dry-run"], "checked "),
    ("dcor-depot-usage --reconcile", ["dcor-depot-usage", "--reconcile"],
     "reconciled "),
]
BASELINE = ("ckan jobs list (baseline)", ["jobs", "list"], "There are")


def write_ini(folder: pathlib.Path, database: str) -> pathlib.Path:
    for sub in ("storage", "depots"):
        (folder / sub).mkdir(parents=True)
    return benchdb.write_ini(folder / "scale.ini", {
        **benchdb.database_settings(database),
        "ckan.site_id": "dcor_depot_bench_scale",
        "ckan.plugins": "dcor_depot dcor_depot_dev_no_solr",
        "ckan.storage_path": str(folder / "storage"),
        "ckanext.dcor_depot.depots_path": str(folder / "depots"),
        "ckanext.dcor_depot.users_depot_name": "users-bench",
    })


class SiteBuilder:
    """Adds circles of CIRCLE_SIZE resources: rows, objects and files."""

    def __init__(self, engine, folder: pathlib.Path, endpoint: str,
                 creator: dict):
        self.engine, self.folder = engine, folder
        self.endpoint, self.creator = endpoint.rstrip("/"), creator
        self.client = benchdb.s3_client()
        self.buckets: list[str] = []

    def add_circle(self) -> None:
        from ckanext.dcor_depot import naming

        import sqlalchemy as sa
        circle_id = str(uuid.uuid4())
        circle_name = f"scale-{circle_id[:8]}"
        bucket = f"circle-{circle_id}"
        self.client.create_bucket(Bucket=bucket)
        self.buckets.append(bucket)
        now = datetime.datetime.utcnow()
        packages, resources, objects, files = [], [], [], []
        for _ in range(CIRCLE_SIZE // FILES_PER_DATASET):
            pid = str(uuid.uuid4())
            name = f"ds-{pid}"
            packages.append({
                "id": pid, "name": name, "title": name, "state": "active",
                "type": "dataset", "owner_org": circle_id, "private": True,
                "creator_user_id": self.creator["id"],
                "metadata_created": now, "metadata_modified": now})
            for position in range(FILES_PER_DATASET):
                rid = str(uuid.uuid4())
                key = naming.object_key("resource", rid)
                resources.append({
                    "id": rid, "package_id": pid, "url": "cells.rtdc",
                    "name": f"cells-{position}.rtdc", "state": "active",
                    "url_type": "s3_upload", "position": position,
                    "size": 0, "extras": json.dumps({
                        "s3_available": True, "sha256": EMPTY_SHA256,
                        "crc32": 0, "etag": "e",
                        "s3_url": f"{self.endpoint}/{bucket}/{key}"})})
                objects.append({"bucket": bucket, "key": key,
                                "artifact": "resource", "resource_id": rid,
                                "size": 0, "recorded_at": now})
                files.append((rid, naming.user_depot_path(
                    str(self.folder / "depots"), "users-bench",
                    self.creator["name"], circle_name, pid, name, rid,
                    f"cells-{position}.rtdc")))
        with self.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO \"group\" (id, name, title, type, "
                "is_organization, state, approval_status, created, "
                "description, image_url) VALUES (:id, :name, :name, "
                "'organization', true, 'active', 'approved', now(), '', '')"),
                {"id": circle_id, "name": circle_name})
            for table, rows in (("package", packages),
                                ("resource", resources),
                                ("dcor_depot_stored_object", objects)):
                columns = list(rows[0])
                connection.execute(sa.text(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                    f"({', '.join(':' + c for c in columns)})"), rows)
            connection.execute(sa.text("ANALYZE"))
        resources_dir = self.folder / "storage" / "resources"
        for rid, path in files:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "wb").close()
            link = pathlib.Path(naming.resource_file(str(resources_dir),
                                                     rid))
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
        tagging = f"sha256={EMPTY_SHA256}"
        with concurrent.futures.ThreadPoolExecutor(PUT_THREADS) as pool:
            list(pool.map(lambda row: self.client.put_object(
                Bucket=bucket, Key=row["key"], Body=b"", Tagging=tagging),
                objects))

    def remove_buckets(self) -> None:
        for bucket in self.buckets:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket)
            for page in pages:
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(
                        Bucket=bucket, Delete={"Objects": keys,
                                               "Quiet": True})
            self.client.delete_bucket(Bucket=bucket)


def run_command(ini: pathlib.Path, args: list[str],
                summary_start: str) -> dict:
    """Wall time, peak RSS and the summary line of one command (its last
    line that starts with `summary_start`)."""
    out = tempfile.TemporaryFile(mode="w+")
    started = time.perf_counter()
    process = subprocess.Popen([str(CKAN), "-c", str(ini), *args],
                               stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    summaries = [line.strip() for line in out.read().splitlines()
                 if line.strip().startswith(summary_start)]
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024,
            "exit": process.returncode,
            "summary": summaries[-1] if summaries else ""}


def measure_all(ini: pathlib.Path, resources: int,
                commands: list[tuple[str, list[str], str]]) -> dict:
    results = {}
    for name, args, summary_start in [BASELINE, *commands]:
        print(f"  {name} at {resources} resources ...", flush=True)
        result = run_command(ini, args, summary_start)
        if result["exit"] != 0 or not result["summary"]:
            raise SystemExit(f"{name} exited {result['exit']}: "
                             f"{result['summary']}")
        print(f"    {result['seconds']:.1f} s, {result['peak_rss_mb']:.0f} "
              f"MB: {result['summary']}", flush=True)
        results[name] = result
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--database", default="dcor_depot_bench_scale",
                        help="created when missing")
    parser.add_argument("--keep", action="store_true",
                        help="leave the buckets (and the folder) in place")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", action="append", metavar="COMMAND",
                        choices=[name.split()[0] for name, _, _ in COMMANDS],
                        help="measure only this command (repeatable)")
    args = parser.parse_args()
    args.commands = [c for c in COMMANDS
                     if not args.only or c[0].split()[0] in args.only]
    if args.small < CIRCLE_SIZE or args.small % CIRCLE_SIZE or \
            args.large % CIRCLE_SIZE or args.large <= args.small:
        raise SystemExit(f"--small and --large must be multiples of "
                         f"{CIRCLE_SIZE}, --large the larger")

    import sqlalchemy as sa

    settings = benchdb.database_settings(args.database)
    benchdb.ensure_database(args.database)
    engine = sa.create_engine(settings["sqlalchemy.url"])
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-scale-"))
    ini = write_ini(folder, args.database)
    builder = None
    try:
        print(f"ckan db init ({args.database})", flush=True)
        benchdb.init_database(ini)
        with engine.begin() as connection:  # a fresh site each run
            connection.execute(sa.text(
                "TRUNCATE dcor_depot_stored_object, "
                "dcor_depot_bucket_reconciled, dcor_depot_job_outbox, "
                "resource, package_member, package, member, \"group\" "
                "CASCADE"))
        ckan(ini, "user", "add", ADMIN, f"email={ADMIN}@localhost",
             "password=dcor-bench-scale", check=False)
        with engine.connect() as connection:
            creator = dict(connection.execute(sa.text(
                "SELECT id, name FROM \"user\" WHERE name = :n"),
                {"n": ADMIN}).one()._mapping)
        import configparser
        parser_ = configparser.ConfigParser(interpolation=None,
                                            strict=False)
        parser_.read(ini)
        builder = SiteBuilder(
            engine, folder,
            parser_["app:main"]["dcor_object_store.endpoint_url"], creator)
        measured = {}
        site_size = 0
        for size in (args.small, args.large):
            started = time.perf_counter()
            while site_size < size:
                builder.add_circle()
                site_size += CIRCLE_SIZE
            print(f"site of {site_size} resources built in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            measured[size] = measure_all(ini, size, args.commands)
        report(args, measured)
    finally:
        if builder is not None and not args.keep:
            builder.remove_buckets()
        engine.dispose()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def report(args: argparse.Namespace, measured: dict) -> None:
    """Print the ratios (and write them with --json)."""
    small, large = measured[args.small], measured[args.large]
    target_time = TIME_MARGIN * args.large / args.small
    base_small = small[BASELINE[0]]["seconds"]
    base_large = large[BASELINE[0]]["seconds"]
    commands = {}
    print(f"\n{'command':<34} {'s@small':>8} {'s@large':>8} {'net x':>7} "
          f"{'MB@small':>9} {'MB@large':>9} {'mem x':>6}")
    for name, _, _ in args.commands:
        s, l_ = small[name], large[name]
        net_ratio = (l_["seconds"] - base_large) / \
            max(s["seconds"] - base_small, 1e-3)
        memory_ratio = l_["peak_rss_mb"] / s["peak_rss_mb"]
        commands[name] = {
            "small": s, "large": l_, "time_ratio_net": net_ratio,
            "time_ratio_raw": l_["seconds"] / s["seconds"],
            "memory_ratio": memory_ratio,
            "time_ok": l_["seconds"] / s["seconds"] <= target_time,
            "memory_ok": memory_ratio <= TARGET_MEMORY_RATIO}
        print(f"{name:<34} {s['seconds']:8.1f} {l_['seconds']:8.1f} "
              f"{net_ratio:7.2f} {s['peak_rss_mb']:9.0f} "
              f"{l_['peak_rss_mb']:9.0f} {memory_ratio:6.2f}")
    print(f"baseline (ckan jobs list): {base_small:.1f} s / {base_large:.1f}"
          f" s, {small[BASELINE[0]]['peak_rss_mb']:.0f} MB / "
          f"{large[BASELINE[0]]['peak_rss_mb']:.0f} MB")
    results = {"small": args.small, "large": args.large,
               "target_time_ratio": target_time,
               "target_memory_ratio": TARGET_MEMORY_RATIO,
               "baseline": {"small": small[BASELINE[0]],
                            "large": large[BASELINE[0]]},
               "commands": commands}
    met = all(c["time_ok"] and c["memory_ok"] for c in commands.values())
    print(f"targets (time <= {target_time:.1f}x, "
          f"peak memory <= {TARGET_MEMORY_RATIO}x): "
          f"{'met' if met else 'MISSED'}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
