"""Migration benchmark: `ckan dcor-migrate-resources-to-object-store`.

Builds legacy sites (plain files at CKAN's path, no S3 fields) in the test
database and migrates them with --jobs 1 and --jobs 8 in the same run:
2,000 small resources (10 KB) and 20 large ones (100 MB). Prints
resources/s, MB/s, the speed-up of --jobs 8, and the peak memory of the
command for 200 vs 2,000 resources (it must stay flat).

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_migrate.py [--json PATH]

It uses the benches' own database (dcor_depot_bench, created when missing;
see benchdb.py), so a test run at the same time does not wipe it under the
bench; --database picks another.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import benchdb

MB = 1e6


def write_ini(folder: pathlib.Path, database: str) -> pathlib.Path:
    return benchdb.write_ini(folder / "bench.ini", {
        **benchdb.database_settings(database),
        "ckan.plugins": "dcor_depot dcor_depot_dev_no_solr",
        "ckan.storage_path": str(folder / "storage"),
        "ckanext.dcor_depot.depots_path": str(folder / "depots"),
    })


def build_site(tk, model, storage: pathlib.Path, count: int, size: int,
               per_dataset: int) -> str:
    """A circle with `count` legacy resources of `size` bytes."""
    from ckanext.dcor_depot import naming

    # earlier scenarios leave the walk
    model.Session.execute(model.package_table.update().values(
        state="deleted"))
    model.Session.commit()
    context = {"ignore_auth": True, "user": tk.get_action("get_site_user")(
        {"ignore_auth": True}, {})["name"]}
    circle = tk.get_action("organization_create")(
        dict(context), {"name": f"bench-{uuid.uuid4().hex[:10]}"})
    block = os.urandom(size)
    made = 0
    while made < count:
        n = min(per_dataset, count - made)
        resources = [{"id": str(uuid.uuid4()), "name": f"r{i}.rtdc",
                      "url": f"r{i}.rtdc", "url_type": "upload"}
                     for i in range(n)]
        tk.get_action("package_create")(dict(context), {
            "name": f"bench-{uuid.uuid4().hex[:12]}",
            "owner_org": circle["id"], "private": False,
            "resources": resources})
        for resource in resources:
            path = naming.resource_path(str(storage), resource["id"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(block)
        made += n
    return circle["id"]


def remove_bucket(circle_id: str) -> None:
    """Free the S3 server's RAM for the next scenario."""
    from ckanext.dcor_depot.storage import s3
    client = s3.get_client()
    bucket = s3.bucket_for_circle(circle_id)
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket)


def migrate(ini: pathlib.Path, jobs: int) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) of this run's command, and its summary."""
    ckan_bin = pathlib.Path(sys.executable).with_name("ckan")
    with tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(ckan_bin), "-c", str(ini),
             "dcor-migrate-resources-to-object-store", "--jobs", str(jobs)],
            stdout=out, stderr=err, text=True)
        # wait4 gives this child's own peak; RUSAGE_CHILDREN would also
        # count earlier children such as `ckan db init`
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"migration failed: {err.read()[-2000:]}")
        summary = out.read().strip().splitlines()[-1]
    return seconds, usage.ru_maxrss / 1024, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20)
    parser.add_argument("--large-mb", type=int, default=100)
    parser.add_argument("--per-dataset", type=int, default=10)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--database", default=benchdb.DB_NAME,
                        help="created when missing")
    args = parser.parse_args()
    if min(args.small, args.large, args.large_mb, args.per_dataset) < 1:
        raise SystemExit("--small, --large, --large-mb and --per-dataset "
                         "must be at least 1")

    from ckan.cli import load_config
    from ckan.config.middleware import make_app
    import ckan.model as model
    import ckan.plugins.toolkit as tk

    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-migrate-"))
    (folder / "storage").mkdir()
    (folder / "depots").mkdir()
    ini = write_ini(folder, args.database)
    benchdb.ensure_database(args.database)
    benchdb.init_database(ini)
    app = make_app(load_config(str(ini)))
    flask_app = getattr(app, "apps", {}).get("flask_app", app)._wsgi_app
    rows = []
    run_peaks: list[float] = []
    scenarios = [
        # memory first: each run is a new process, ru_maxrss only grows,
        # so the smaller run goes first
        ("small, memory baseline", args.small // 10, 10_000, 8),
        ("small", args.small, 10_000, 1),
        ("small", args.small, 10_000, 8),
        ("large", args.large, args.large_mb * 1024**2, 1),
        ("large", args.large, args.large_mb * 1024**2, 8),
    ]
    try:
        with flask_app.test_request_context():
            for label, count, size, jobs in scenarios:
                circle_id = build_site(tk, model, folder / "storage", count,
                                       size, args.per_dataset)
                seconds, own_peak, summary = migrate(ini, jobs)
                remove_bucket(circle_id)
                # the table reports the largest run so far, as it always has
                peak = max([own_peak] + [row[5] for row in rows])
                rows.append((label, count, size, jobs, seconds, peak,
                             summary))
                run_peaks.append(own_peak)
                print(f"{label}: {count} x {size} B, --jobs {jobs}: "
                      f"{seconds:.1f} s; {summary}", flush=True)
    finally:
        # the large scenarios leave gigabytes of files behind
        shutil.rmtree(folder, ignore_errors=True)
    print()
    print("| resources | size | --jobs | seconds | resources/s | MB/s | "
          "peak RSS of the largest run so far (MB) |")
    print("|---|---|---|---|---|---|---|")
    for label, count, size, jobs, seconds, peak, _ in rows:
        print(f"| {count} | {size / MB:.2f} MB | {jobs} | {seconds:.1f} | "
              f"{count / seconds:.1f} | {count * size / MB / seconds:.1f} | "
              f"{peak:.0f} |")
    small1, small8 = rows[1][4], rows[2][4]
    large1, large8 = rows[3][4], rows[4][4]
    print(f"\nspeed-up of --jobs 8: small {small1 / small8:.2f}x, "
          f"large {large1 / large8:.2f}x")
    print(f"peak memory: {args.small // 10} resources {rows[0][5]:.0f} MB, "
          f"{args.small} resources {rows[2][5]:.0f} MB")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({
                "runs": [{"label": label, "resources": count, "size": size,
                          "jobs": jobs, "seconds": seconds,
                          "resources_per_s": count / seconds,
                          "mb_per_s": count * size / MB / seconds,
                          "peak_rss_mb_so_far": peak,
                          "peak_rss_mb": own_peak, "summary": summary}
                         for (label, count, size, jobs, seconds, peak,
                              summary), own_peak in zip(rows, run_peaks)],
                "speedup_small": small1 / small8,
                "speedup_large": large1 / large8,
                "memory_small_count": args.small // 10,
                "memory_small_peak_mb": rows[0][5],
                "memory_large_count": args.small,
                "memory_large_peak_mb": rows[2][5],
            }, handle, indent=1)


if __name__ == "__main__":
    main()
