"""Latency that the plugin adds to `resource_create` with a file upload.

Two CKAN sites run at once from the same database: one with `dcor_depot`,
one without (both with `dcor_depot_dev_no_solr`, as there is no Solr).
Small multipart uploads go to both, alternating request by request so that
machine noise hits both alike. No worker runs: the plugin's jobs stay in
Redis, which is all the web request does on top of CKAN's own upload.
Prints median and p90 of each site and the difference of the medians.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_create_latency.py
        [--requests 200] [--json PATH]

It uses its own database (dcor_depot_bench, created when missing; see
benchdb.py) and Redis db (5 by default, flushed at start and end).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import shutil
import statistics
import tempfile
import uuid

import benchdb
from benchdb import Site, ckan, free_port

TARGET_MS = 5.0
USER = "benchadmin"


def write_ini(folder: pathlib.Path, name: str, port: int, plugin: bool,
              database: str, redis_db: int) -> pathlib.Path:
    site = folder / name
    for sub in ("storage", "depots"):
        (site / sub).mkdir(parents=True)
    plugins = "dcor_depot dcor_depot_dev_no_solr" if plugin \
        else "dcor_depot_dev_no_solr"
    return benchdb.write_ini(site / f"{name}.ini", {
        **benchdb.database_settings(database, redis_db),
        "ckan.site_id": f"dcor_depot_bench_{name}",
        "ckan.site_url": f"http://127.0.0.1:{port}",
        "ckan.plugins": plugins,
        "ckan.storage_path": str(site / "storage"),
        "ckanext.dcor_depot.depots_path": str(site / "depots"),
        "ckanext.dcor_depot.users_depot_name": "users-bench",
    })


def summary(times: list[float]) -> dict:
    ms = [t * 1000 for t in times]
    return {"samples": len(ms), "median_ms": statistics.median(ms),
            "p90_ms": statistics.quantiles(ms, n=10)[8],
            "mean_ms": statistics.fmean(ms), "min_ms": min(ms)}


def count_files(folder: pathlib.Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200,
                        help="measured resource_create calls per site")
    parser.add_argument("--warmup", type=int, default=5,
                        help="calls per site not counted")
    parser.add_argument("--size-kb", type=int, default=10)
    parser.add_argument("--per-dataset", type=int, default=10,
                        help="resources per dataset; a dataset with many "
                        "resources makes every create slower")
    parser.add_argument("--redis-db", type=int, default=benchdb.REDIS_DB)
    parser.add_argument("--database", default=benchdb.DB_NAME,
                        help="created when missing")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.requests < 2 or args.warmup < 0 or args.per_dataset < 1:
        raise SystemExit("--requests must be at least 2, --per-dataset 1")

    import redis
    import requests

    store = redis.Redis.from_url(
        benchdb.database_settings(args.database,
                                  args.redis_db)["ckan.redis.url"])
    benchdb.ensure_database(args.database)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-latency-"))
    sites: list[Site] = []
    try:
        store.flushdb()
        ports = [free_port(), free_port()]
        while ports[1] == ports[0]:
            ports[1] = free_port()
        for name, port, plugin in (("on", ports[0], True),
                                   ("off", ports[1], False)):
            sites.append(Site(name, write_ini(folder, name, port, plugin,
                                              args.database, args.redis_db),
                              port))
        on, off = sites
        print(f"ckan db init ({args.database})", flush=True)
        benchdb.init_database(on.ini)
        for site in sites:
            site.start()
        # while the sites start: a sysadmin and a token, shared through
        # the common database
        ckan(on.ini, "user", "add", USER, f"email={USER}@localhost",
             "password=dcor-bench-admin", check=False)
        ckan(on.ini, "sysadmin", "add", USER)
        token = ckan(on.ini, "user", "token", "add", USER,
                     "bench").strip().splitlines()[-1].strip()
        for site in sites:
            status = site.wait_ready()
            site.session = requests.Session()
            site.session.headers["Authorization"] = token
            print(f"site {site.name}: {site.url}, CKAN "
                  f"{status['ckan_version']}, plugins "
                  f"{' '.join(status['extensions'])}", flush=True)
        if "dcor_depot" not in on.action("status_show")["extensions"] or \
                "dcor_depot" in off.action("status_show")["extensions"]:
            raise SystemExit("the sites do not differ by dcor_depot")

        org = off.action("organization_create",
                         {"name": f"bench-{uuid.uuid4().hex[:10]}"})
        per_site = args.warmup + args.requests
        datasets = {}
        for site in sites:
            datasets[site.name] = [site.action("package_create", {
                "name": f"bench-{site.name}-{uuid.uuid4().hex[:10]}",
                "owner_org": org["id"]})["id"]
                for _ in range(math.ceil(per_site / args.per_dataset))]

        payload = os.urandom(args.size_kb * 1000)
        print(f"{per_site} resource_create with a {args.size_kb} kB upload "
              f"per site ({args.warmup} warm-up), alternating", flush=True)
        for i in range(per_site):
            # swap who goes first each round: neither always follows the
            # other
            for site in (sites if i % 2 == 0 else sites[::-1]):
                site.action("resource_create", {
                    "package_id": datasets[site.name][i // args.per_dataset],
                    "name": f"r{i}.rtdc"},
                    files={"upload": (f"r{i}.rtdc", payload)},
                    timed=i >= args.warmup)

        # checks: both stored the files; the plugin site only queued jobs
        # rq:job:ID is a job; rq:job:ID:dependents etc. are its bookkeeping
        jobs = sum(1 for key in store.keys("rq:job:*")
                   if key.count(b":") == 2)
        stored = {s.name: count_files(s.ini.parent / "storage" / "resources")
                  for s in sites}
        in_depot = count_files(on.ini.parent / "depots")
        results = {s.name: summary(s.times) for s in sites}
        diff = results["on"]["median_ms"] - results["off"]["median_ms"]
        paired = statistics.median(
            (a - b) * 1000 for a, b in zip(on.times, off.times))
        print(f"uploads stored: on {stored['on']}, off {stored['off']}; "
              f"jobs waiting in Redis: {jobs} (the plugin queues 2 per "
              f"upload); files in the depot: {in_depot}")
        print(f"{'site':<12} {'median ms':>10} {'p90 ms':>8} {'mean ms':>8}")
        for name, label in (("off", "plugin off"), ("on", "plugin on")):
            r = results[name]
            print(f"{label:<12} {r['median_ms']:10.1f} {r['p90_ms']:8.1f} "
                  f"{r['mean_ms']:8.1f}")
        print(f"added latency (median on - median off): {diff:.1f} ms "
              f"(median of paired differences {paired:.1f} ms); target < "
              f"{TARGET_MS:.0f} ms: {'met' if diff < TARGET_MS else 'NOT met'}")
        if stored["on"] < per_site or stored["off"] < per_site:
            raise SystemExit("not every upload was stored")
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"requests": args.requests, "warmup": args.warmup,
                           "size_bytes": len(payload),
                           "per_dataset": args.per_dataset,
                           "on": results["on"], "off": results["off"],
                           "diff_median_ms": diff,
                           "paired_diff_median_ms": paired,
                           "target_ms": TARGET_MS, "jobs_in_redis": jobs,
                           "files_in_depot": in_depot}, handle, indent=1)
        # the bench's datasets and token would pile up over runs
        for site in sites:
            for dataset_id in datasets[site.name]:
                site.action("dataset_purge", {"id": dataset_id})
        off.action("organization_purge", {"id": org["id"]})
        off.action("api_token_revoke", {"token": token})
    finally:
        for site in sites:
            site.stop()
        try:
            store.flushdb()
        except redis.RedisError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
