"""Downloads through the reference deployment (deploy/: nginx -> uWSGI ->
CKAN), each against a baseline measured in the same run.

- depot: a resource sent by nginx through X-Accel-Redirect (the depot
  provider; CKAN only answers the header) against nginx sending the same
  file from a plain static location; paired rounds, median ratio.
- archive: a dataset of 4 members as zip through nginx -> uWSGI (members
  read from the depot) against plain GETs of the members' objects, one
  after the other; the memory of uWSGI (all its processes) and of nginx
  (master and workers) during the stream, over idle.
- redirect: a resource through CKAN's download route behind nginx (the
  s3 provider's redirect, followed) against a plain GET of the object.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_deploy.py [--size-mib 1024]
        [--archive-mib 256] [--rounds 3] [--json PATH]

Own database (dcor_depot_bench) and Redis db 5, like the other benches.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import tempfile
import time
import uuid

import benchdb
from bench_download import (PeakMemory, fetch, paired, remove_bucket,
                           rss_mb, write_file, write_ini)
from benchdb import ckan

from ckanext.dcor_depot.tests import deployment

USER = "benchadmin"


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in pathlib.Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text()
                         .split()]
            except OSError:
                pass
    return found


def tree_rss_mb(pid: int) -> float:
    total = 0.0
    for child in tree_pids(pid):
        try:
            total += rss_mb(child)
        except OSError:
            pass
    return total


class TreeMemory(PeakMemory):
    """Peak RSS of process trees (summed per tree), sampled every 20 ms."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(os.getpid())  # the sampling thread
        self.pids = pids
        self.idle = {name: tree_rss_mb(pid) for name, pid in pids.items()}
        self.peak = dict(self.idle)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], tree_rss_mb(pid))
            time.sleep(0.02)


def measure_archive(site, session, dataset: dict, rounds: int) -> dict:
    resources = site.api("package_show", id=dataset["id"])["resources"]
    url = f"{site.url}/dataset/{dataset['id']}/archive?comptype=zip"
    plain_urls = [r["s3_url"] for r in resources]
    fetch(session, url)
    for plain in plain_urls:
        fetch(session, plain)
    pids = {"uwsgi": site.pids["uwsgi"], "nginx": site.pids["nginx"]}
    rounds_out = []
    for number in range(rounds):
        plain_bytes, plain_seconds = 0, 0.0
        for plain in plain_urls:
            size, seconds = fetch(session, plain)
            plain_bytes += size
            plain_seconds += seconds
        with TreeMemory(pids) as memory:
            size, seconds = fetch(session, url)
        rounds_out.append({
            "archive": size / seconds / 1e6,
            "plain": plain_bytes / plain_seconds / 1e6,
            **{f"{name}_over_idle_mb": memory.peak[name] - memory.idle[name]
               for name in pids},
            **{f"{name}_idle_mb": memory.idle[name] for name in pids}})
        last = rounds_out[-1]
        print(f"  archive round {number + 1}: zip {last['archive']:.0f} MB/s"
              f", plain GETs {last['plain']:.0f} MB/s; uWSGI +"
              f"{last['uwsgi_over_idle_mb']:.0f} MB (idle "
              f"{last['uwsgi_idle_mb']:.0f}), nginx +"
              f"{last['nginx_over_idle_mb']:.1f} MB (idle "
              f"{last['nginx_idle_mb']:.0f})", flush=True)
    ratios = [r["archive"] / r["plain"] for r in rounds_out]
    return {"members": len(resources),
            "member_bytes": sum(r["size"] for r in resources),
            "rounds": rounds_out, "paired_ratios": ratios,
            "median_ratio": statistics.median(ratios),
            "archive_mb_per_s": max(r["archive"] for r in rounds_out),
            "plain_mb_per_s": max(r["plain"] for r in rounds_out),
            **{f"{name}_over_idle_mb": max(r[f"{name}_over_idle_mb"]
                                           for r in rounds_out)
               for name in pids},
            **{f"{name}_idle_mb": rounds_out[0][f"{name}_idle_mb"]
               for name in pids}}


class BenchSite:
    """A deployment of the bench's ini and its API as the bench admin."""

    def __init__(self, site, session) -> None:
        self.site, self.session = site, session
        self.url, self.ini, self.pids = site.url, site.ini, site.pids

    def api(self, action: str, **data) -> dict:
        answer = self.session.post(f"{self.url}/api/3/action/{action}",
                                   json=data, timeout=60)
        if answer.status_code != 200:
            raise SystemExit(f"{action}: {answer.status_code} "
                             f"{answer.text[:500]}")
        return answer.json()["result"]


def append(site: BenchSite, folder: pathlib.Path, dataset_id: str,
           size: int, name: str) -> None:
    path = folder / name
    write_file(path, size, -1)
    ckan(site.ini, "append-resource", str(path), dataset_id)
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--archive-mib", type=int, default=256,
                        help="size of each of the 4 archive members")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=benchdb.REDIS_DB)
    parser.add_argument("--database", default=benchdb.DB_NAME)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if min(args.size_mib, args.archive_mib, args.rounds,
           args.processes) < 1:
        raise SystemExit("sizes, --rounds and --processes must be >= 1")

    import redis
    import requests

    benchdb.ensure_database(args.database)
    redis.Redis.from_url(benchdb.database_settings(
        args.database, args.redis_db)["ckan.redis.url"]).flushdb()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-deploy-"))
    base = write_ini(folder, 0, args.database, args.redis_db)
    benchdb.init_database(base)
    ckan(base, "user", "add", USER, f"email={USER}@localhost",
         "password=dcor-bench-admin", check=False)
    ckan(base, "sysadmin", "add", USER)
    token = ckan(base, "user", "token", "add", USER,
                 "bench").strip().splitlines()[-1].strip()
    session = requests.Session()
    session.headers["Authorization"] = token
    anonymous = requests.Session()
    results: dict = {"processes": args.processes}
    bucket = None
    running = None
    try:
        # depot first: nginx sends the files (X-Accel-Redirect)
        running = deployment.start(base, folder / "depot-first",
                                   processes=args.processes, workers=1,
                                   settings={
            "ckanext.dcor_depot.download_providers": "depot s3"})
        static = "/bench-static/"
        storage = str(folder / "storage")
        running.edit_nginx_site(lambda text: text.replace(
            "    location / {", f"    location {static} {{ alias "
            f"{storage}/; }}\n\n    location / {{", 1))
        site = BenchSite(running, session)
        circle = site.api("organization_create",
                          name=f"bench-{uuid.uuid4().hex[:10]}")
        dataset = site.api("package_create",
                           name=f"bench-{uuid.uuid4().hex[:10]}",
                           owner_org=circle["id"], private=False)
        print(f"append-resource of {args.size_mib} MiB", flush=True)
        append(site, folder, dataset["id"], args.size_mib * 1024**2,
               "big.rtdc")
        resource = site.api("package_show", id=dataset["id"])["resources"][0]
        bucket = resource["s3_url"].split("/")[-5]
        route = f"{site.url}/dataset/{dataset['id']}/resource/" \
            f"{resource['id']}/download/{resource['name']}"
        rid = resource["id"]
        plain = f"{site.url}{static}resources/{rid[:3]}/{rid[3:6]}/{rid[6:]}"
        print("depot download: X-Accel-Redirect vs nginx static", flush=True)
        results["depot"] = paired(anonymous, {"accel": route,
                                              "static": plain},
                                  args.rounds, "depot")
        members = site.api("package_create",
                           name=f"bench-{uuid.uuid4().hex[:10]}",
                           owner_org=circle["id"], private=False)
        for number in range(4):
            append(site, folder, members["id"], args.archive_mib * 1024**2,
                   f"member-{number}.rtdc")
        print("archive (zip, members from the depot) through nginx -> "
              "uWSGI vs plain GETs of the objects", flush=True)
        results["archive"] = measure_archive(site, anonymous, members,
                                             args.rounds)
        running.stop()
        running = None

        # s3 first (the default): CKAN answers a redirect
        running = deployment.start(base, folder / "s3-first",
                                   processes=args.processes, workers=0)
        print("resource download: redirect through nginx vs plain S3 GET",
              flush=True)
        results["redirect"] = paired(anonymous, {"route": route.replace(
            site.url, running.url), "plain": resource["s3_url"]},
            args.rounds, "redirect")
        for name in ("depot", "archive", "redirect"):
            print(f"{name}: median ratio "
                  f"{results[name]['median_ratio']:.2f}", flush=True)
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    finally:
        if running is not None:
            running.stop()
        if bucket:
            remove_bucket(bucket)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
