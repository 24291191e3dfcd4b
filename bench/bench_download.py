"""Downloads through CKAN's route against plain reads of the objects.

A CKAN site with the plugin (and its worker) serves a public dataset whose
files are in the local S3 server. One client (requests, streamed, 4 MiB
chunks) measures, in one run:

- resource: a 1 GiB resource downloaded through CKAN's download route
  (a redirect to a presigned URL, followed) against a plain GET of the
  object's own (public) S3 URL, alternating, median of the paired ratios;
  the bytes the CKAN process wrote per byte downloaded (/proc/PID/io);
  the CKAN process's peak memory while ten such downloads run at once.
- archive: a dataset of 4 x 256 MB as zip and as tar through
  /dataset/{id}/archive against the sum of plain GETs of the same objects;
  the CKAN process's peak memory during the stream; the bytes read from
  storage to answer a Range for the last MB of the archive. Twice: with
  members read from their local depot copies (the default
  archive_providers) and, on a second site of the same database, from S3
  (archive_providers = s3). Each round says where the bytes came from.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_download.py [--size-mib 1024]
        [--rounds 3] [--archive-mib 256] [--json PATH]

Own database (dcor_depot_bench) and Redis db 5, like the other benches.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid

import benchdb
from benchdb import Site, ckan, free_port, process_cpu

USER = "benchadmin"
CHUNK = 4 * 1024**2
RANGE_TRIES = 5


def write_ini(folder: pathlib.Path, port: int, database: str,
              redis_db: int, name: str = "site",
              archive_providers: str | None = None) -> pathlib.Path:
    """A site's ini; sites of one folder share its storage and depots."""
    for sub in ("storage", "depots"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    added = {} if archive_providers is None else \
        {"ckanext.dcor_depot.archive_providers": archive_providers}
    return benchdb.write_ini(folder / f"{name}.ini", {
        **benchdb.database_settings(database, redis_db),
        "ckan.site_id": "dcor_depot_bench_download",
        "ckan.site_url": f"http://127.0.0.1:{port}",
        "ckan.plugins": "dcor_depot dcor_depot_dev_no_solr",
        "ckan.storage_path": str(folder / "storage"),
        "ckanext.dcor_depot.depots_path": str(folder / "depots"),
        "ckanext.dcor_depot.users_depot_name": "users-bench",
    }, added)


def write_file(path: pathlib.Path, size: int, seed: int) -> None:
    block = os.urandom(CHUNK) if seed < 0 else \
        (seed.to_bytes(4, "big") * (CHUNK // 4))
    with open(path, "wb") as handle:
        left = size
        while left:
            handle.write(block[:min(left, CHUNK)])
            left -= min(left, CHUNK)


def fetch(session, url: str) -> tuple[int, float]:
    """Bytes and seconds of one streamed GET (redirects followed)."""
    start = time.perf_counter()
    got = 0
    with session.get(url, stream=True, timeout=600) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_content(CHUNK):
            got += len(chunk)
    return got, time.perf_counter() - start


def stack_cpu(pids: list[int]) -> float:
    return sum(process_cpu(pid) for pid in pids)


RGW_SOCKET = pathlib.Path(os.environ.get(
    "DCOR_STACK_DIR", "/var/lib/dcor-depot-stack")) / "ceph/run/client.rgw.a.asok"


def radosgw_get_bytes() -> int | None:
    """Bytes the local radosgw has sent for GETs (its own perf counter),
    or None when the S3 server is not the stack's radosgw."""
    if not RGW_SOCKET.exists() or not shutil.which("ceph"):
        return None
    try:
        dump = subprocess.run(
            ["ceph", "--admin-daemon", str(RGW_SOCKET), "perf", "dump"],
            capture_output=True, text=True, timeout=30, check=True).stdout
        return int(json.loads(dump)["rgw"]["get_b"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return None


def loopback_bytes() -> int:
    with open("/sys/class/net/lo/statistics/rx_bytes") as handle:
        return int(handle.read())


def files_read_bytes(pid: int) -> int:
    """Bytes a process has passed to read()/pread() (/proc/PID/io rchar,
    all its threads): the depot files an archive reads, as socket traffic
    goes through recv and is not counted there."""
    with open(f"/proc/{pid}/io") as handle:
        for line in handle:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    """Samples a process's RSS every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.idle = pid, 0.0, rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def paired(session, pairs: dict[str, str], rounds: int,
           label: str) -> dict:
    """Alternating rounds of GETs of both URLs; MB/s each and the ratio
    of the first to the second."""
    (name_a, url_a), (name_b, url_b) = pairs.items()
    fetch(session, url_a)  # warm both paths (page cache, connections)
    fetch(session, url_b)
    rounds_out = []
    for number in range(rounds):
        order = [(name_a, url_a), (name_b, url_b)]
        if number % 2:
            order.reverse()
        speeds = {}
        for name, url in order:
            size, seconds = fetch(session, url)
            speeds[name] = size / seconds / 1e6
        rounds_out.append(speeds)
        print(f"  {label} round {number + 1}: {name_a} {speeds[name_a]:.0f}"
              f" MB/s, {name_b} {speeds[name_b]:.0f} MB/s", flush=True)
    ratios = [r[name_a] / r[name_b] for r in rounds_out]
    return {"size": size, "rounds": rounds_out, "paired_ratios": ratios,
            "median_ratio": statistics.median(ratios),
            f"{name_a}_mb_per_s": max(r[name_a] for r in rounds_out),
            f"{name_b}_mb_per_s": max(r[name_b] for r in rounds_out)}


def measure_resource(site: Site, anonymous, dataset: dict, resource: dict,
                     rounds: int) -> dict:
    route = f"{site.url}/dataset/{dataset['id']}/resource/" \
        f"{resource['id']}/download/{resource['name']}"
    plain = resource["s3_url"]
    measured = paired(anonymous, {"route": route, "plain": plain}, rounds,
                      "download")
    pid = site.process.pid
    # what CKAN sends for one download: its own answer, the redirect (the
    # file's bytes come from S3 straight to the client)
    first = anonymous.get(route, allow_redirects=False, timeout=60)
    written = len(first.content) + sum(
        len(k) + len(v) + 4 for k, v in first.headers.items()) + 20
    size, _ = fetch(anonymous, route)
    with PeakMemory(pid) as memory:
        threads = [threading.Thread(target=fetch, args=(anonymous, route))
                   for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return {**measured, "size": size,
            "ckan_bytes_written": written,
            "ckan_bytes_per_byte": written / size,
            "idle_rss_mb": memory.idle, "peak_rss_mb_10_parallel": memory.peak}


def storage_reads(site: Site) -> tuple[int | None, int]:
    """(bytes radosgw sent for GETs or None, bytes the CKAN process read
    from files) so far."""
    return radosgw_get_bytes(), files_read_bytes(site.process.pid)


def measure_archive(site: Site, anonymous, dataset: dict,
                    rounds: int) -> dict:
    """zip and tar of the dataset through CKAN against plain GETs of the
    same objects one after the other; where the archive's bytes came from
    (radosgw's GET bytes, the CKAN process's file reads)."""
    resources = site.action("package_show",
                            {"id": dataset["id"]})["resources"]
    radosgw = benchdb.s3_server_pid()
    osd = benchdb.s3_server_pid("osd")
    plain_urls = [r["s3_url"] for r in resources]
    results: dict = {"members": len(resources),
                     "member_bytes": sum(r["size"] for r in resources)}
    for comptype in ("zip", "tar"):
        url = f"{site.url}/dataset/{dataset['id']}/archive?comptype=" \
            f"{comptype}"
        pairs = []
        for number in range(rounds):
            plain_seconds = 0.0
            plain_bytes = 0
            s3_cpu = stack_cpu([radosgw, osd])
            own_cpu = time.process_time()
            for plain in plain_urls:
                size, seconds = fetch(anonymous, plain)
                plain_bytes += size
                plain_seconds += seconds
            plain_cpu = (stack_cpu([radosgw, osd]) - s3_cpu,
                         time.process_time() - own_cpu)
            s3_cpu = stack_cpu([radosgw, osd])
            own_cpu = time.process_time()
            cpu_before = process_cpu(site.process.pid)
            reads_before = storage_reads(site)
            with PeakMemory(site.process.pid) as memory:
                size, seconds = fetch(anonymous, url)
            reads_after = storage_reads(site)
            cpu = process_cpu(site.process.pid) - cpu_before
            archive_cpu = (stack_cpu([radosgw, osd]) - s3_cpu,
                           time.process_time() - own_cpu)
            gib = size / 1024**3
            pairs.append({"archive": size / seconds / 1e6,
                          "plain": plain_bytes / plain_seconds / 1e6,
                          "peak_rss_mb": memory.peak,
                          "ckan_cpu_s_per_gib": cpu / gib,
                          # CPU seconds per second of the stream, all three
                          # parts (the machine's cores are the ceiling)
                          "cores_busy": (cpu + sum(archive_cpu)) / seconds,
                          "s3_cpu_s_per_gib": archive_cpu[0] / gib,
                          "client_cpu_s_per_gib": archive_cpu[1] / gib,
                          "plain_s3_cpu_s_per_gib": plain_cpu[0] / gib,
                          "plain_client_cpu_s_per_gib": plain_cpu[1] / gib,
                          "read_from_s3_bytes": None if None in (
                              reads_before[0], reads_after[0])
                          else reads_after[0] - reads_before[0],
                          "read_from_files_bytes":
                              reads_after[1] - reads_before[1],
                          "idle_rss_mb": memory.idle})
            last = pairs[-1]
            from_s3 = "?" if last["read_from_s3_bytes"] is None else \
                f"{last['read_from_s3_bytes'] / 1e6:.0f}"
            print(f"  {comptype} round {number + 1}: archive "
                  f"{last['archive']:.1f} MB/s, plain GETs "
                  f"{last['plain']:.1f} MB/s, CKAN peak RSS "
                  f"{memory.peak:.0f} MB (idle {memory.idle:.0f}), CKAN CPU "
                  f"{last['ckan_cpu_s_per_gib']:.2f} s/GiB, S3 server "
                  f"(radosgw + osd) "
                  f"{last['s3_cpu_s_per_gib']:.2f} (plain "
                  f"{last['plain_s3_cpu_s_per_gib']:.2f}), client "
                  f"{last['client_cpu_s_per_gib']:.2f} (plain "
                  f"{last['plain_client_cpu_s_per_gib']:.2f}); "
                  f"{last['cores_busy']:.2f} cores busy; read from S3 "
                  f"{from_s3} MB, from files "
                  f"{last['read_from_files_bytes'] / 1e6:.0f} MB",
                  flush=True)
        head = anonymous.head(url, timeout=60)
        length = int(head.headers["Content-Length"])
        # Bytes read from storage for the Range: radosgw's own count of
        # bytes sent for GETs (where it is the stack's radosgw; elsewhere
        # the loopback's bytes less the response, which on the local
        # stack would also count radosgw's reads from its OSD) plus the
        # CKAN process's file reads (depot members). Sockets are not in
        # /proc/PID/io. Other traffic (tests beside the bench) only adds,
        # so the least of a few tries is the request's own.
        tries = []
        for _ in range(RANGE_TRIES):
            before = storage_reads(site), loopback_bytes()
            tail = anonymous.get(url, headers={
                "Range": f"bytes={length - 1024**2}-"}, timeout=60)
            after = storage_reads(site), loopback_bytes()
            from_s3 = after[0][0] - before[0][0] if None not in (
                before[0][0], after[0][0]) else \
                after[1] - before[1] - len(tail.content)
            tries.append(from_s3 + after[0][1] - before[0][1])
        read_from_storage = min(tries)
        ratios = [p["archive"] / p["plain"] for p in pairs]
        results[comptype] = {
            "length": length, "rounds": pairs, "paired_ratios": ratios,
            "median_ratio": statistics.median(ratios),
            "peak_rss_over_idle_mb": max(p["peak_rss_mb"] - p["idle_rss_mb"]
                                         for p in pairs),
            "range_status": tail.status_code,
            "range_bytes": len(tail.content),
            "range_bytes_read": read_from_storage}
    return results


def print_archive(label: str, archive: dict) -> None:
    for comptype in ("zip", "tar"):
        a = archive[comptype]
        print(f"{comptype} ({label}): archive/plain median "
              f"{a['median_ratio']:.2f}; peak RSS "
              f"{a['peak_rss_over_idle_mb']:.0f} MB over idle; Range of the "
              f"last MB: {a['range_status']}, read {a['range_bytes_read']} "
              f"bytes for {a['range_bytes']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--archive-mib", type=int, default=256,
                        help="size of each of the 4 archive members")
    parser.add_argument("--redis-db", type=int, default=benchdb.REDIS_DB)
    parser.add_argument("--database", default=benchdb.DB_NAME)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.size_mib < 1 or args.rounds < 1:
        raise SystemExit("--size-mib and --rounds must be at least 1")

    import redis
    import requests

    benchdb.ensure_database(args.database)
    redis.Redis.from_url(benchdb.database_settings(
        args.database, args.redis_db)["ckan.redis.url"]).flushdb()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-download-"))
    port = free_port()
    site = Site("download", write_ini(folder, port, args.database,
                                      args.redis_db), port)
    bucket = None
    try:
        print(f"ckan db init ({args.database})", flush=True)
        benchdb.init_database(site.ini)
        site.start()
        ckan(site.ini, "user", "add", USER, f"email={USER}@localhost",
             "password=dcor-bench-admin", check=False)
        ckan(site.ini, "sysadmin", "add", USER)
        token = ckan(site.ini, "user", "token", "add", USER,
                     "bench").strip().splitlines()[-1].strip()
        site.wait_ready()
        site.session = requests.Session()
        site.session.headers["Authorization"] = token
        circle = site.action("organization_create",
                             {"name": f"bench-{uuid.uuid4().hex[:10]}"})
        dataset = site.action("package_create", {
            "name": f"bench-{uuid.uuid4().hex[:10]}",
            "owner_org": circle["id"], "private": False})
        path = folder / "big.rtdc"
        write_file(path, args.size_mib * 1024**2, -1)
        print(f"append-resource of {args.size_mib} MiB", flush=True)
        ckan(site.ini, "append-resource", str(path), dataset["id"])
        path.unlink()
        resource = site.action("package_show",
                               {"id": dataset["id"]})["resources"][0]
        bucket = resource["s3_url"].split("/")[-5]  # both datasets' circle
        anonymous = requests.Session()
        print("resource download: CKAN route vs plain S3 GET", flush=True)
        results = {"resource": measure_resource(site, anonymous, dataset,
                                                resource, args.rounds)}
        r = results["resource"]
        print(f"route/plain median {r['median_ratio']:.2f}; CKAN wrote "
              f"{r['ckan_bytes_written']} bytes for {r['size']} "
              f"({r['ckan_bytes_per_byte']:.6f} per byte); peak RSS "
              f"{r['peak_rss_mb_10_parallel']:.0f} MB with 10 downloads "
              f"(idle {r['idle_rss_mb']:.0f} MB)", flush=True)
        members = site.action("package_create", {
            "name": f"bench-{uuid.uuid4().hex[:10]}",
            "owner_org": circle["id"], "private": False})
        for number in range(4):
            path = folder / f"member-{number}.rtdc"
            write_file(path, args.archive_mib * 1024**2, -1)
            ckan(site.ini, "append-resource", str(path), members["id"])
            path.unlink()
        print("archives of 4 files: CKAN vs plain GETs; members from the "
              "depot (the default archive_providers)", flush=True)
        results["archive"] = measure_archive(site, anonymous, members,
                                             args.rounds)
        print_archive("depot", results["archive"])
        # the same archives with members read from S3 (archive_providers
        # = s3): one streamed GET per member through CKAN
        s3_port = free_port()
        s3_site = Site("download-s3", write_ini(
            folder, s3_port, args.database, args.redis_db, name="s3-site",
            archive_providers="s3"), s3_port)
        s3_site.start()
        s3_site.session = site.session
        try:
            s3_site.wait_ready()
            print("the same, members from S3 (archive_providers = s3)",
                  flush=True)
            results["archive_s3"] = measure_archive(s3_site, anonymous,
                                                    members, args.rounds)
        finally:
            s3_site.stop()
        print_archive("S3", results["archive_s3"])
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    finally:
        site.stop()
        if bucket:
            remove_bucket(bucket)
        shutil.rmtree(folder, ignore_errors=True)


def remove_bucket(bucket: str) -> None:
    """The S3 server keeps objects in RAM: leave nothing behind."""
    client = benchdb.s3_client()
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


if __name__ == "__main__":
    main()
