"""Latency of storage accounting and of the metrics scrape as the site
grows: `circle_storage_show` of a circle of 10,000 resources and a
`/metrics` scrape, at 10,000 and at 100,000 resources on the site, against
baselines measured in the same run on the same site: CKAN's own
`organization_show` of the same circle (without datasets) and
`status_show`; and what the quota check adds to `resource_upload_s3_urls`
(the same request for a circle with a quota and for one without, whose
check is skipped).

One CKAN site (dcor_depot and dcor_depot_dev_no_solr, as there is no
Solr). The rows are what the site would hold: datasets of 10 resources
with their fields (url_type s3_upload, sha256, s3_available) and one
recorded object of 1 MB per resource plus a condensed file for every
other one. They are written straight into PostgreSQL (the objects
themselves are not needed: neither measure touches S3). Requests
alternate between measures and baselines, so that machine noise hits
both alike. Prints p50 and p95 of each and the ratios; the targets are a
p50 under 100 ms for circle_storage_show and a scrape under 250 ms at
100,000 resources.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_storage.py
        [--requests 100] [--json PATH]

It uses its own database (dcor_depot_bench_storage by default, created
when missing; see benchdb.py) and Redis db (--redis-db, flushed at start
and end).
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

TARGET_SHOW_MS = 100.0
TARGET_SCRAPE_MS = 250.0
ADMIN = "benchadmin"
TOKEN = "bench-metrics-token"
FILES_PER_DATASET = 10
SMALL, LARGE = 10_000, 100_000
OTHER_CIRCLES = 9


def write_ini(folder: pathlib.Path, port: int, database: str,
              redis_db: int) -> pathlib.Path:
    for sub in ("storage", "depots"):
        (folder / sub).mkdir(parents=True)
    return benchdb.write_ini(folder / "storage.ini", {
        **benchdb.database_settings(database, redis_db),
        "ckan.site_id": "dcor_depot_bench_storage",
        "ckan.site_url": f"http://127.0.0.1:{port}",
        "ckan.plugins": "dcor_depot dcor_depot_dev_no_solr",
        "ckan.storage_path": str(folder / "storage"),
        "ckanext.dcor_depot.depots_path": str(folder / "depots"),
        "ckanext.dcor_depot.users_depot_name": "users-bench",
    }, added={"ckanext.dcor_depot.metrics_token": TOKEN,
              "ckanext.dcor_depot.circle_quota_bytes": str(10**13)})


# datasets of 10 resources each, every resource with one recorded object
# (1 MB) and every other one with a condensed file too
_ROWS = """
WITH d AS (
  SELECT gen_random_uuid()::text AS id, :prefix || n AS name
  FROM generate_series(1, :datasets) AS n
), p AS (
  INSERT INTO package (id, name, title, state, type, owner_org, private,
                       metadata_created, metadata_modified)
  SELECT id, name, name, 'active', 'dataset', :org, true, now(), now()
  FROM d RETURNING id
), r AS (
  INSERT INTO resource (id, package_id, url, name, state, url_type,
                        position, size, extras)
  SELECT gen_random_uuid()::text, p.id, 'cells.rtdc', 'cells-' || k,
         'active', 's3_upload', k, 1000000,
         '{"s3_available": true, "sha256": "'
           || repeat('a', 64) || '", "etag": "e", "crc32": 1}'
  FROM p, generate_series(0, :files - 1) AS k
  RETURNING id, position
)
INSERT INTO dcor_depot_stored_object (bucket, key, artifact, resource_id,
                                      size, recorded_at)
SELECT :bucket, a.artifact || '/' || substr(r.id, 1, 3) || '/'
         || substr(r.id, 4, 3) || '/' || substr(r.id, 7),
       a.artifact, r.id, a.size, now()
FROM r, (VALUES ('resource', 1000000), ('condensed', 200000)) AS a(artifact, size)
WHERE a.artifact = 'resource' OR r.position % 2 = 0
"""


def add_rows(engine, org: dict, bucket: str, resources: int) -> None:
    import sqlalchemy as sa
    with engine.begin() as connection:
        connection.execute(sa.text(_ROWS), {
            "prefix": f"bench-{uuid.uuid4().hex[:8]}-",
            "datasets": resources // FILES_PER_DATASET,
            "files": FILES_PER_DATASET, "org": org["id"], "bucket": bucket})
        connection.execute(sa.text("ANALYZE"))


def _remove_buckets(names: list[str]) -> None:
    """The buckets the URL requests made (empty: nothing was uploaded)."""
    client = benchdb.s3_client()
    for name in names:
        try:
            client.delete_bucket(Bucket=name)
        except Exception:  # never made, or not empty: left for the owner
            pass


def percentiles(times: list[float]) -> dict:
    ms = sorted(t * 1000 for t in times)
    cuts = statistics.quantiles(ms, n=20)
    return {"samples": len(ms), "p50_ms": statistics.median(ms),
            "p95_ms": cuts[18], "min_ms": ms[0]}


def timed(session, method: str, url: str, **kwargs) -> float:
    start = time.perf_counter()
    answer = session.request(method, url, timeout=60, **kwargs)
    seconds = time.perf_counter() - start
    if answer.status_code != 200:
        raise SystemExit(f"{url}: {answer.status_code} {answer.text[:500]}")
    return seconds


def measure(measures: dict, requests_: int, warmup: int) -> dict:
    times: dict[str, list[float]] = {name: [] for name in measures}
    for i in range(warmup + requests_):
        order = list(measures) if i % 2 == 0 else list(measures)[::-1]
        for name in order:
            seconds = measures[name]()
            if i >= warmup:
                times[name].append(seconds)
    return {name: percentiles(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100,
                        help="measured requests per measure and baseline")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--redis-db", type=int, default=benchdb.REDIS_DB)
    parser.add_argument("--database", default="dcor_depot_bench_storage",
                        help="created when missing")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.requests < 20 or args.warmup < 0:
        raise SystemExit("--requests must be at least 20")

    import redis
    import requests
    import sqlalchemy as sa

    settings = benchdb.database_settings(args.database, args.redis_db)
    store = redis.Redis.from_url(settings["ckan.redis.url"])
    benchdb.ensure_database(args.database)
    engine = sa.create_engine(settings["sqlalchemy.url"])
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-storage-"))
    port = free_port()
    site = Site("storage", write_ini(folder, port, args.database,
                                     args.redis_db), port)
    try:
        store.flushdb()
        print(f"ckan db init ({args.database})", flush=True)
        benchdb.init_database(site.ini)
        with engine.begin() as connection:  # a fresh site each run
            connection.execute(sa.text(
                "TRUNCATE dcor_depot_stored_object, resource, package_member,"
                " package CASCADE"))
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
        scraper = requests.Session()
        scraper.headers["Authorization"] = f"Bearer {TOKEN}"

        circles = [site.action("organization_create", {
            "name": f"bench-circle-{n}-{uuid.uuid4().hex[:6]}"})
            for n in range(1 + OTHER_CIRCLES)]
        template = "circle-{organization_id}"
        buckets = [template.format(organization_id=c["id"])
                   for c in circles]
        started = time.perf_counter()
        add_rows(engine, circles[0], buckets[0], SMALL)
        print(f"{SMALL} resources written in "
              f"{time.perf_counter() - started:.1f} s", flush=True)

        def show():
            return timed(site.session, "POST",
                         f"{site.url}/api/3/action/circle_storage_show",
                         json={"id": circles[0]["id"]})

        def org_show():
            return timed(site.session, "POST",
                         f"{site.url}/api/3/action/organization_show",
                         json={"id": circles[0]["id"],
                               "include_datasets": False})

        def scrape():
            return timed(scraper, "GET", f"{site.url}/metrics")

        def status_show():
            return timed(site.session, "GET",
                         f"{site.url}/api/3/action/status_show")

        figures = site.action("circle_storage_show", {"id": circles[0]["id"]})
        if figures["resources"] != SMALL or \
                figures["by_artifact"]["resource"]["files"] != SMALL:
            raise SystemExit(f"the circle shows {figures['resources']} "
                             f"resources, not {SMALL}")
        print(f"at {SMALL} resources: {args.requests} requests each "
              f"({args.warmup} warm-up), alternating with baselines",
              flush=True)
        small = measure({"show": show, "organization_show": org_show,
                         "scrape": scrape, "status_show": status_show},
                        args.requests, args.warmup)

        # the quota check: circle 0 has a quota (its 10,000 resources
        # take 15 GB of it), circle 1 none; neither upload is made, and
        # the issued records are flushed with the Redis db at the end
        site.action("circle_quota_update", {"id": circles[0]["id"],
                                            "quota_bytes": 10**15})
        site.action("circle_quota_update", {"id": circles[1]["id"],
                                            "quota_bytes": 0})

        def urls_for(circle):
            return lambda: timed(
                site.session, "POST",
                f"{site.url}/api/3/action/resource_upload_s3_urls",
                json={"organization_id": circle["id"], "file_size": 1000})
        print("resource_upload_s3_urls with and without a quota", flush=True)
        quota_check = measure({"with_quota": urls_for(circles[0]),
                               "without_quota": urls_for(circles[1])},
                              args.requests, args.warmup)

        per_circle = (LARGE - SMALL) // OTHER_CIRCLES
        started = time.perf_counter()
        for circle, name in zip(circles[1:], buckets[1:]):
            add_rows(engine, circle, name, per_circle)
        print(f"{LARGE} resources on the site after "
              f"{time.perf_counter() - started:.1f} s more", flush=True)
        print(f"at {LARGE} resources: the same", flush=True)
        large = measure({"show": show, "organization_show": org_show,
                         "scrape": scrape, "status_show": status_show},
                        args.requests, args.warmup)
    finally:
        site.stop()
        store.flushdb()
        _remove_buckets(buckets if "buckets" in locals() else [])
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)

    added_ms = quota_check["with_quota"]["p50_ms"] - \
        quota_check["without_quota"]["p50_ms"]
    results = {"small": small, "large": large, "quota_check": quota_check,
               "quota_check_added_ms": added_ms, "ratios": {
        "show_to_organization_show_at_10k":
            small["show"]["p50_ms"] / small["organization_show"]["p50_ms"],
        "scrape_to_status_show_at_100k":
            large["scrape"]["p50_ms"] / large["status_show"]["p50_ms"],
        "scrape_100k_to_10k":
            large["scrape"]["p50_ms"] / small["scrape"]["p50_ms"],
        "show_100k_to_10k_site":
            large["show"]["p50_ms"] / small["show"]["p50_ms"]}}
    labels = {"show": "circle_storage_show (circle of 10,000)",
              "organization_show": "organization_show (same circle)",
              "scrape": "/metrics scrape",
              "status_show": "status_show"}
    for size, measured in ((SMALL, small), (LARGE, large)):
        print(f"\nsite of {size} resources")
        print(f"{'request':<42} {'p50 ms':>8} {'p95 ms':>8}")
        for name, label in labels.items():
            print(f"{label:<42} {measured[name]['p50_ms']:8.1f} "
                  f"{measured[name]['p95_ms']:8.1f}")
    print(f"\nresource_upload_s3_urls p50: with a quota "
          f"{quota_check['with_quota']['p50_ms']:.1f} ms, without "
          f"{quota_check['without_quota']['p50_ms']:.1f} ms: the check adds "
          f"{added_ms:.1f} ms (target < 5 ms)")
    print()
    for name, ratio in results["ratios"].items():
        print(f"{name}: {ratio:.2f}")
    show_ok = small["show"]["p50_ms"] < TARGET_SHOW_MS
    scrape_ok = large["scrape"]["p50_ms"] < TARGET_SCRAPE_MS
    print(f"target circle_storage_show p50 < {TARGET_SHOW_MS:.0f} ms: "
          f"{'met' if show_ok else 'MISSED'}; /metrics at {LARGE} < "
          f"{TARGET_SCRAPE_MS:.0f} ms: {'met' if scrape_ok else 'MISSED'}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
