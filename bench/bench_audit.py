"""What the audit trail adds to a request: the download redirect of a
private resource (a presigned GET URL, recorded as a grant of private
bytes) with and without the audit, in one run.

Two CKAN processes serve one database: `audit` as shipped, and
`no-audit`, the same code started with the audit's write replaced by a
no-op (this bench's own process wrapper; the site has no switch to turn
the audit off). Requests alternate between the two, so machine noise hits
both alike. Prints p50 and p95 of each, the difference of the p50s (the
audit's cost, target < 5 ms) and their ratio, and checks that only the
`audit` site wrote its rows.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_audit.py [--requests 200]
        [--json PATH]

Own database (dcor_depot_bench, or DCOR_BENCH_DB) and Redis db
(--redis-db, flushed at start and end), like the other benches.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import time

import benchdb
from benchdb import REPO, Site, free_port

TARGET_MS = 5.0
ADMIN = "benchadmin"

# the `no-audit` site: CKAN's command with the audit's one write made a
# no-op (record() and the grants all end in store.record_rows)
NO_AUDIT = ("import sys; "
            "import ckanext.dcor_depot.audit.store as store; "
            "store.record_rows = lambda *args, **kwargs: None; "
            "from ckan.cli.cli import ckan; "
            "sys.argv = ['ckan'] + sys.argv[1:]; ckan()")


class NoAuditSite(Site):
    def start(self) -> None:
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", NO_AUDIT, "-c", str(self.ini), "run",
             "-H", "127.0.0.1", "-p", str(self.port), "-r", "-D"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO,
            start_new_session=True)


def write_ini(folder: pathlib.Path, name: str, port: int, database: str,
              redis_db: int) -> pathlib.Path:
    for sub in ("storage", "depots"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return benchdb.write_ini(folder / f"{name}.ini", {
        **benchdb.database_settings(database, redis_db),
        "ckan.site_id": "dcor_depot_bench_audit",
        "ckan.site_url": f"http://127.0.0.1:{port}",
        "ckan.plugins": "dcor_depot dcor_depot_dev_no_solr",
        "ckan.storage_path": str(folder / "storage"),
        "ckanext.dcor_depot.depots_path": str(folder / "depots"),
        "ckanext.dcor_depot.users_depot_name": "users-bench",
    })


def timed_redirect(session, url: str) -> float:
    start = time.perf_counter()
    answer = session.get(url, allow_redirects=False, timeout=60)
    seconds = time.perf_counter() - start
    if answer.status_code != 302 or "X-Amz-Signature=" not in \
            answer.headers.get("Location", ""):
        raise SystemExit(f"GET {url}: {answer.status_code}, not a redirect "
                         f"to a presigned URL: {answer.text[:300]!r}")
    return seconds


def main() -> None:
    args = benchdb.request_arguments(__doc__.splitlines()[0])

    import redis
    import requests

    store = redis.Redis.from_url(benchdb.database_settings(
        args.database, args.redis_db)["ckan.redis.url"])
    benchdb.ensure_database(args.database)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-audit-"))
    sites = {}
    for name, kind in (("audit", Site), ("no-audit", NoAuditSite)):
        port = free_port()
        sites[name] = kind(name, write_ini(folder, name, port, args.database,
                                           args.redis_db), port)
    site = sites["audit"]
    try:
        store.flushdb()
        print(f"ckan db init ({args.database})", flush=True)
        benchdb.init_database(site.ini)
        for each in sites.values():
            each.start()
        token = benchdb.admin_token(site.ini, ADMIN)
        for each in sites.values():
            status = each.wait_ready()
            each.session = requests.Session()
            each.session.headers["Authorization"] = token
            print(f"site {each.name}: {each.url}, CKAN "
                  f"{status['ckan_version']}", flush=True)
        org, dataset, resource = benchdb.stored_file(site, "bench-audit",
                                                     private=True)
        rid = resource["id"]
        if not resource.get("s3_available"):
            raise SystemExit("the worker did not store the object")
        path = f"/dataset/{dataset['id']}/resource/{rid}/download"

        def grants() -> int:
            return len(site.action("storage_audit_list", {
                "resource": rid, "action": "grant.presigned_get",
                "limit": 1000})["events"])

        times: dict[str, list[float]] = {name: [] for name in sites}
        before = grants()
        print(f"{args.requests} redirects per site ({args.warmup} warm-up),"
              " alternating", flush=True)
        for i in range(args.warmup + args.requests):
            order = list(sites) if i % 2 == 0 else list(sites)[::-1]
            for name in order:
                seconds = timed_redirect(sites[name].session,
                                         sites[name].url + path)
                if i >= args.warmup:
                    times[name].append(seconds)
        written = grants() - before
        expected = args.warmup + args.requests
        if written != expected:
            raise SystemExit(f"{written} grants recorded, {expected} "
                             "expected (the audit site's requests only)")
        results = {name: benchdb.percentiles(values)
                   for name, values in times.items()}
        added = results["audit"]["p50_ms"] - results["no-audit"]["p50_ms"]
        ratio = results["audit"]["p50_ms"] / results["no-audit"]["p50_ms"]
        print(f"{'download redirect (private)':<30} {'p50 ms':>8} "
              f"{'p95 ms':>8}")
        for name, r in results.items():
            print(f"{name:<30} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f}")
        print(f"audit adds (p50): {added:.2f} ms, ratio {ratio:.3f}; "
              f"{written} grants recorded by the audit site, none by the "
              "other")
        met = added < TARGET_MS
        print(f"target < {TARGET_MS:.0f} ms: {'met' if met else 'NOT met'}")
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"requests": args.requests, "warmup": args.warmup,
                           **results, "added_ms": added, "ratio": ratio,
                           "grants_written": written,
                           "target_ms": TARGET_MS, "met": met},
                          handle, indent=1)
        site.action("dataset_purge", {"id": dataset["id"]})
        site.action("organization_purge", {"id": org["id"]})
    finally:
        benchdb.tear_down(list(sites.values()), store, folder)

if __name__ == "__main__":
    main()
