"""Latency of the download list: `download_list_show` of a list of 100
files and the /dashboard/download-list page, against baselines measured
in the same run on the same site: `package_show` of a dataset with 10
files, and CKAN's own dashboard page (/dashboard/datasets).

One CKAN site (dcor_depot and dcor_depot_dev_no_solr, as there is no Solr)
serves a user who is a member of a circle with 10 private datasets of 10
uploaded files each; the user's list holds all 100, so every read checks
the user's access to 10 datasets. Requests alternate between the measure
and its baseline, so that machine noise hits both alike. Prints p50 and
p95 of each and the ratios; the target is a p50 under 50 ms for
download_list_show.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_download_list.py
        [--requests 200] [--json PATH]

It uses its own database (dcor_depot_bench, or DCOR_BENCH_DB; created
when missing, see benchdb.py) and Redis db (--redis-db, flushed at start
and end). No worker runs: the uploads' jobs only wait in Redis.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import statistics
import tempfile
import time
import uuid

import benchdb
from benchdb import Site, ckan, free_port

TARGET_P50_MS = 50.0
ADMIN = "benchadmin"
DATASETS, FILES_PER_DATASET = 10, 10


def write_ini(folder: pathlib.Path, port: int, database: str,
              redis_db: int) -> pathlib.Path:
    for sub in ("storage", "depots"):
        (folder / sub).mkdir(parents=True)
    return benchdb.write_ini(folder / "list.ini", {
        **benchdb.database_settings(database, redis_db),
        "ckan.site_id": "dcor_depot_bench_list",
        "ckan.site_url": f"http://127.0.0.1:{port}",
        "ckan.plugins": "dcor_depot dcor_depot_dev_no_solr",
        "ckan.storage_path": str(folder / "storage"),
        "ckanext.dcor_depot.depots_path": str(folder / "depots"),
        "ckanext.dcor_depot.users_depot_name": "users-bench",
    })


def percentiles(times: list[float]) -> dict:
    ms = sorted(t * 1000 for t in times)
    cuts = statistics.quantiles(ms, n=20)
    return {"samples": len(ms), "p50_ms": statistics.median(ms),
            "p95_ms": cuts[18], "min_ms": ms[0]}


def timed_get(session, url: str) -> float:
    start = time.perf_counter()
    answer = session.get(url, timeout=60)
    seconds = time.perf_counter() - start
    if answer.status_code != 200:
        raise SystemExit(f"GET {url}: {answer.status_code} "
                         f"{answer.text[:500]}")
    return seconds


def timed_action(session, url: str, name: str, data: dict) -> float:
    start = time.perf_counter()
    answer = session.post(f"{url}/api/3/action/{name}", json=data,
                          timeout=60)
    seconds = time.perf_counter() - start
    if answer.status_code != 200:
        raise SystemExit(f"{name}: {answer.status_code} {answer.text[:500]}")
    return seconds


def start_as_admin(site: Site, database: str) -> None:
    """Bring the database up to date, start the site and give it a
    session of a sysadmin (site.action)."""
    import requests

    print(f"ckan db init ({database})", flush=True)
    benchdb.init_database(site.ini)
    site.start()
    ckan(site.ini, "user", "add", ADMIN, f"email={ADMIN}@localhost",
         "password=dcor-bench-admin", check=False)
    ckan(site.ini, "sysadmin", "add", ADMIN)
    admin_token = ckan(site.ini, "user", "token", "add", ADMIN,
                       "bench").strip().splitlines()[-1].strip()
    status = site.wait_ready()
    print(f"site: {site.url}, CKAN {status['ckan_version']}", flush=True)
    site.session = requests.Session()
    site.session.headers["Authorization"] = admin_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200,
                        help="measured requests per measure and baseline")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--redis-db", type=int, default=benchdb.REDIS_DB)
    parser.add_argument("--database", default=benchdb.DB_NAME,
                        help="created when missing")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.requests < 20 or args.warmup < 0:
        raise SystemExit("--requests must be at least 20")

    import redis
    import requests

    store = redis.Redis.from_url(benchdb.database_settings(
        args.database, args.redis_db)["ckan.redis.url"])
    benchdb.ensure_database(args.database)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-list-"))
    port = free_port()
    site = Site("list", write_ini(folder, port, args.database,
                                  args.redis_db), port)
    user_token = None
    org = None
    try:
        store.flushdb()
        start_as_admin(site, args.database)

        member = f"bench-reader-{uuid.uuid4().hex[:8]}"
        site.action("user_create", {"name": member,
                                    "email": f"{member}@localhost",
                                    "password": "dcor-bench-reader-1"})
        org = site.action("organization_create", {
            "name": f"bench-{uuid.uuid4().hex[:10]}",
            "users": [{"name": member, "capacity": "member"}]})
        user_token = site.action("api_token_create", {
            "user": member, "name": "bench"})["token"]
        dataset_ids = []
        for d in range(DATASETS):
            dataset = site.action("package_create", {
                "name": f"bench-list-{uuid.uuid4().hex[:10]}",
                "owner_org": org["id"], "private": True})
            dataset_ids.append(dataset["id"])
            for f in range(FILES_PER_DATASET):
                site.action("resource_create",
                            {"package_id": dataset["id"],
                             "name": f"cells-{f}.rtdc"},
                            files={"upload": (f"cells-{f}.rtdc",
                                              b"x" * (1000 + f))})
        reader = requests.Session()
        reader.headers["Authorization"] = user_token
        for dataset_id in dataset_ids:
            answer = reader.post(f"{site.url}/api/3/action/download_list_add",
                                 json={"dataset_id": dataset_id}, timeout=60)
            if answer.status_code != 200:
                raise SystemExit(f"download_list_add: {answer.text[:500]}")
        listing = reader.get(f"{site.url}/api/3/action/download_list_show",
                             timeout=60).json()["result"]
        if listing["count"] != DATASETS * FILES_PER_DATASET or \
                not all(item["readable"] for item in listing["items"]):
            raise SystemExit(f"the list holds {listing['count']} files, not "
                             f"{DATASETS * FILES_PER_DATASET} readable ones")
        page = reader.get(f"{site.url}/dashboard/download-list", timeout=60)
        if page.text.count('class="dcor-item"') != listing["count"]:
            raise SystemExit("the list page does not show every file")

        measures = {
            "show": lambda: timed_action(reader, site.url,
                                         "download_list_show", {}),
            "package_show": lambda: timed_action(
                reader, site.url, "package_show", {"id": dataset_ids[0]}),
            "page": lambda: timed_get(reader,
                                      f"{site.url}/dashboard/download-list"),
            "dashboard": lambda: timed_get(reader,
                                           f"{site.url}/dashboard/datasets"),
        }
        times: dict[str, list[float]] = {name: [] for name in measures}
        print(f"{args.requests} requests each ({args.warmup} warm-up), "
              "alternating with their baselines", flush=True)
        for i in range(args.warmup + args.requests):
            order = list(measures) if i % 2 == 0 else list(measures)[::-1]
            for name in order:
                seconds = measures[name]()
                if i >= args.warmup:
                    times[name].append(seconds)
        results = {name: percentiles(values)
                   for name, values in times.items()}
        ratios = {
            "show_to_package_show": results["show"]["p50_ms"] /
            results["package_show"]["p50_ms"],
            "page_to_dashboard": results["page"]["p50_ms"] /
            results["dashboard"]["p50_ms"]}
        labels = {"show": "download_list_show (100 files)",
                  "package_show": "package_show (10 files)",
                  "page": "/dashboard/download-list (100 files)",
                  "dashboard": "/dashboard/datasets"}
        print(f"{'request':<40} {'p50 ms':>8} {'p95 ms':>8}")
        for name, label in labels.items():
            r = results[name]
            print(f"{label:<40} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f}")
        met = results["show"]["p50_ms"] < TARGET_P50_MS
        print(f"ratio download_list_show / package_show (p50): "
              f"{ratios['show_to_package_show']:.2f}")
        print(f"ratio list page / dashboard page (p50): "
              f"{ratios['page_to_dashboard']:.2f}")
        print(f"download_list_show p50 target < {TARGET_P50_MS:.0f} ms: "
              f"{'met' if met else 'NOT met'}")
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"requests": args.requests, "warmup": args.warmup,
                           "items": listing["count"], **results,
                           "ratios": ratios,
                           "target_p50_ms": TARGET_P50_MS, "met": met},
                          handle, indent=1)
        # the bench's datasets, users and tokens would pile up over runs
        for dataset_id in dataset_ids:
            site.action("dataset_purge", {"id": dataset_id})
        site.action("organization_purge", {"id": org["id"]})
        site.action("user_delete", {"id": member})
    finally:
        site.stop()
        try:
            store.flushdb()
        except redis.RedisError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
