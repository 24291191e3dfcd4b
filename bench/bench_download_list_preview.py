"""Latency of download_list_preview for a query that matches 10,000
files, against resource_search of the same query in the same run: with
`limit: 0` (CKAN's count alone, no sizes) and returning every match
(what a total of the sizes takes without the preview).

One CKAN site (dcor_depot and dcor_depot_dev_no_solr, as there is no
Solr); a circle with --datasets public datasets of --files stored files in
all, named cells-N.rtdc. The datasets are made through the API, each with
one resource, which SQL turns into a stored file of 1000 bytes and copies
(a file's bytes play no part in a preview, and uploading 10,000 files
would take the bench longer than the measurement). The user who previews
is a plain user, not a sysadmin, with 10 of the files on their list.
Requests alternate between the preview and its baselines. Prints p50 and
p95 and the ratios; the target is a preview p50 under 200 ms.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_download_list_preview.py
        [--files 10000] [--datasets 100] [--requests 50] [--json PATH]

It uses its own database (dcor_depot_bench, or DCOR_BENCH_DB; created
when missing, see benchdb.py); it queues no job and leaves Redis alone.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import tempfile
import time
import uuid

import benchdb
from bench_download_list import percentiles, start_as_admin, write_ini
from benchdb import Site, free_port

TARGET_P50_MS = 200.0
QUERY = "name:cells"


def copy_resources(database: str, dataset_ids: list[str], total: int
                   ) -> None:
    """Make each dataset's one resource a stored file and copy it in SQL
    until the datasets hold `total` files, with new ids, names and
    positions."""
    import sqlalchemy as sa

    engine = sa.create_engine(
        benchdb.database_settings(database)["sqlalchemy.url"])
    per_dataset = total // len(dataset_ids)
    extra = total - per_dataset * len(dataset_ids)
    with engine.begin() as connection:
        # a stored file of 1000 bytes, as an upload leaves it (no job
        # queued: the bytes play no part in a preview)
        connection.execute(sa.text(
            "update resource set url_type = 'upload', size = 1000 "
            "where package_id = any(:datasets)"), {"datasets": dataset_ids})
        columns = [row[0] for row in connection.execute(sa.text(
            "select column_name from information_schema.columns where "
            "table_name = 'resource' and table_schema = current_schema() "
            "order by ordinal_position"))]
        made = {"id": "gen_random_uuid()::text", "position": "g.n",
                "name": "'cells-' || g.n || '.rtdc'"}
        select = ", ".join(made.get(c, f"r.{c}") for c in columns)
        for index, dataset_id in enumerate(dataset_ids):
            copies = per_dataset + (1 if index < extra else 0) - 1
            connection.execute(sa.text(
                f"insert into resource ({', '.join(columns)}) "
                f"select {select} from resource r, "
                f"generate_series(1, :copies) as g(n) "
                f"where r.package_id = :dataset"),
                {"copies": copies, "dataset": dataset_id})
    engine.dispose()


def timed(session, url: str, name: str, data: dict) -> tuple[float, dict]:
    start = time.perf_counter()
    answer = session.post(f"{url}/api/3/action/{name}", json=data,
                          timeout=300)
    seconds = time.perf_counter() - start
    if answer.status_code != 200:
        raise SystemExit(f"{name}: {answer.status_code} {answer.text[:500]}")
    return seconds, answer.json()["result"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--requests", type=int, default=50,
                        help="measured previews and count-only searches")
    parser.add_argument("--full-searches", type=int, default=3,
                        help="measured resource_search of every match")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--database", default=benchdb.DB_NAME)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.requests < 20 or args.datasets < 1 or \
            args.files < args.datasets or args.full_searches < 1:
        raise SystemExit("--requests must be at least 20, and --files at "
                         "least --datasets (>= 1)")

    import requests

    benchdb.ensure_database(args.database)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-preview-"))
    port = free_port()
    site = Site("preview", write_ini(folder, port, args.database,
                                     benchdb.REDIS_DB), port)
    dataset_ids: list[str] = []
    org = member = None
    try:
        start_as_admin(site, args.database)
        member = f"bench-preview-{uuid.uuid4().hex[:8]}"
        site.action("user_create", {"name": member,
                                    "email": f"{member}@localhost",
                                    "password": "dcor-bench-reader-1"})
        org = site.action("organization_create",
                          {"name": f"bench-{uuid.uuid4().hex[:10]}"})
        user_token = site.action("api_token_create", {
            "user": member, "name": "bench"})["token"]
        for d in range(args.datasets):
            dataset = site.action("package_create", {
                "name": f"bench-preview-{uuid.uuid4().hex[:10]}",
                "owner_org": org["id"], "private": False})
            dataset_ids.append(dataset["id"])
            site.action("resource_create",
                        {"package_id": dataset["id"], "name": "cells-0.rtdc",
                         "format": "rtdc",
                         "url": "https://example.org/cells-0.rtdc"})
        print(f"copying rows up to {args.files} files", flush=True)
        copy_resources(args.database, dataset_ids, args.files)

        reader = requests.Session()
        reader.headers["Authorization"] = user_token
        first = timed(reader, site.url, "download_list_preview",
                      {"query": QUERY})[1]
        if first["count"] != args.files or \
                first["total_bytes"] != 1000 * args.files:
            raise SystemExit(f"the preview counts {first['count']} files "
                             f"({first['total_bytes']} bytes), not "
                             f"{args.files}")
        some = site.action("resource_search", {"query": QUERY, "limit": 10})
        answer = reader.post(
            f"{site.url}/api/3/action/download_list_add",
            json={"resource_ids": [r["id"] for r in some["results"]]},
            timeout=60)
        if answer.status_code != 200:
            raise SystemExit(f"download_list_add: {answer.text[:500]}")

        measures = {
            "preview": ("download_list_preview", {"query": QUERY}),
            "count_only": ("resource_search", {"query": QUERY, "limit": 0}),
        }
        times: dict[str, list[float]] = {name: [] for name in measures}
        times["all_matches"] = []
        print(f"{args.requests} requests each ({args.warmup} warm-up), "
              "alternating", flush=True)
        for i in range(args.warmup + args.requests):
            order = list(measures) if i % 2 == 0 else list(measures)[::-1]
            for name in order:
                seconds, result = timed(reader, site.url, *measures[name])
                if name == "preview" and result["already_on_list"] != 10:
                    raise SystemExit("the preview lost the list's items")
                if i >= args.warmup:
                    times[name].append(seconds)
            if i >= args.warmup and len(times["all_matches"]) < \
                    args.full_searches:
                seconds, result = timed(reader, site.url, "resource_search",
                                        {"query": QUERY})
                if len(result["results"]) != args.files:
                    raise SystemExit("resource_search did not return every "
                                     "match")
                times["all_matches"].append(seconds)
        results = {name: percentiles(values) if len(values) >= 2 else None
                   for name, values in times.items()}
        results["all_matches"] = {
            "samples": len(times["all_matches"]),
            "p50_ms": sorted(times["all_matches"])[
                len(times["all_matches"]) // 2] * 1000}
        preview = results["preview"]["p50_ms"]
        ratios = {"preview_to_count_only":
                  preview / results["count_only"]["p50_ms"],
                  "preview_to_all_matches":
                  preview / results["all_matches"]["p50_ms"]}
        met = preview < TARGET_P50_MS
        print(f"{'request (' + str(args.files) + ' matches)':<44} "
              f"{'p50 ms':>8} {'p95 ms':>8}")
        for name, label in (
                ("preview", "download_list_preview"),
                ("count_only", "resource_search, limit 0 (count only)"),
                ("all_matches", "resource_search, every match")):
            r = results[name]
            print(f"{label:<44} {r['p50_ms']:8.1f} "
                  f"{r.get('p95_ms', float('nan')):8.1f}")
        print(f"ratio preview / resource_search count only (p50): "
              f"{ratios['preview_to_count_only']:.2f}")
        print(f"ratio preview / resource_search every match (p50): "
              f"{ratios['preview_to_all_matches']:.3f}")
        print(f"preview p50 target < {TARGET_P50_MS:.0f} ms: "
              f"{'met' if met else 'NOT met'}")
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"files": args.files, "datasets": args.datasets,
                           **results, "ratios": ratios,
                           "target_p50_ms": TARGET_P50_MS, "met": met},
                          handle, indent=1)
    finally:
        try:  # the bench's datasets, users and tokens would pile up
            for dataset_id in dataset_ids:
                site.action("dataset_purge", {"id": dataset_id})
            if org is not None:
                site.action("organization_purge", {"id": org["id"]})
            if member is not None:
                site.action("user_delete", {"id": member})
        except (SystemExit, Exception) as exc:  # noqa: BLE001
            print(f"cleaning up: {exc}")
        site.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
