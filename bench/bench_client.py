"""The command-line client against boto3 on the same objects.

A CKAN site with the plugin (and its worker) and the local S3 server. In
one run, one after the other:

- upload: `dcor-depot upload` of a folder of 4 x 256 MB (presigned URLs,
  sha256 and part MD5s computed while sending, resources created, the
  manifest last) against boto3 `upload_file` of the same four files, with
  its defaults, one after the other;
- download: `dcor-depot download` of that dataset into an empty folder
  (manifest first, every byte hashed and verified before its rename)
  against boto3 `download_file` of the same four objects, with its
  defaults, one after the other;
- the client's peak memory (RSS of the `dcor-depot` process, sampled
  every 20 ms) during both.

Ratios are boto3's time over the client's (above 1: the client is
faster). Rounds alternate which goes first.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_client.py [--size-mib 256]
        [--files 4] [--rounds 2] [--json PATH]

Own database (dcor_depot_bench) and Redis db 5, like the other benches.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import benchdb
from benchdb import Site, ckan, free_port

USER = "benchadmin"
CHUNK = 4 * 1024**2
DCOR_DEPOT = pathlib.Path(sys.executable).with_name("dcor-depot")


def write_ini(folder: pathlib.Path, port: int, database: str,
              redis_db: int) -> pathlib.Path:
    for sub in ("storage", "depots"):
        (folder / sub).mkdir(parents=True)
    return benchdb.write_ini(folder / "site.ini", {
        **benchdb.database_settings(database, redis_db),
        "ckan.site_id": "dcor_depot_bench_client",
        "ckan.site_url": f"http://127.0.0.1:{port}",
        "ckan.plugins": "dcor_depot dcor_depot_dev_no_solr",
        "ckan.storage_path": str(folder / "storage"),
        "ckanext.dcor_depot.depots_path": str(folder / "depots"),
        "ckanext.dcor_depot.users_depot_name": "users-bench",
    })


def write_random_file(path: pathlib.Path, size: int) -> None:
    with open(path, "wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, CHUNK))
            handle.write(block)
            left -= len(block)


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children_cpu() -> float:
    """User + system CPU seconds of the children waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_client(args: list[str], env: dict) -> tuple[float, float, str]:
    """Seconds and peak RSS (MB) of one `dcor-depot` run."""
    start = time.perf_counter()
    process = subprocess.Popen([str(DCOR_DEPOT), *args], env=env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    peak = 0.0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"dcor-depot {' '.join(args)} failed:\n{err[-2000:]}")
    return seconds, peak, out.strip()


def boto3_upload(client, bucket: str, files: list[pathlib.Path]) -> float:
    start = time.perf_counter()
    for path in files:
        client.upload_file(str(path), bucket, f"boto3/{path.name}")
    return time.perf_counter() - start


def boto3_download(client, bucket: str, keys: list[str],
                   folder: pathlib.Path) -> float:
    folder.mkdir()
    start = time.perf_counter()
    for number, key in enumerate(keys):
        client.download_file(bucket, key, str(folder / f"{number}.bin"))
    seconds = time.perf_counter() - start
    shutil.rmtree(folder)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=benchdb.REDIS_DB)
    parser.add_argument("--database", default=benchdb.DB_NAME)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.size_mib < 1 or args.rounds < 1 or args.files < 1:
        raise SystemExit("--size-mib, --files and --rounds must be at "
                         "least 1")

    import redis
    import requests

    benchdb.ensure_database(args.database)
    redis.Redis.from_url(benchdb.database_settings(
        args.database, args.redis_db)["ckan.redis.url"]).flushdb()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-client-"))
    port = free_port()
    site = Site("client", write_ini(folder, port, args.database,
                                    args.redis_db), port)
    s3 = benchdb.s3_client()
    buckets = []
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
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("DCOR_")}
        env.update(DCOR_SITE=site.url, DCOR_API_TOKEN=token)

        source = folder / "source"
        source.mkdir()
        files = []
        for number in range(args.files):
            files.append(source / f"cells-{number}.rtdc")
            write_random_file(files[-1], args.size_mib * 1024**2)
        total = sum(path.stat().st_size for path in files)
        plain_bucket = f"bench-client-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(Bucket=plain_bucket)
        buckets.append(plain_bucket)

        radosgw, osd = benchdb.s3_server_pid(), benchdb.s3_server_pid("osd")

        def measured(who: str, run) -> dict:
            """Seconds of one run, the CPU seconds of its side (the
            dcor-depot process, or this process for boto3) and of the S3
            server."""
            before = (children_cpu(), own_cpu(),
                      benchdb.process_cpu(radosgw) + benchdb.process_cpu(osd))
            seconds = run()
            after = (children_cpu(), own_cpu(),
                     benchdb.process_cpu(radosgw) + benchdb.process_cpu(osd))
            side = 0 if who == "client" else 1
            return {"seconds": seconds,
                    "cpu_s": after[side] - before[side],
                    "s3_cpu_s": after[2] - before[2]}

        def paired_rounds(what: str, run_one) -> list[dict]:
            """Round 0 warms both up and is not kept; then the rounds, in
            alternating order."""
            rounds = []
            for number in range(args.rounds + 1):
                order = ["client", "boto3"] if number % 2 == 0 else \
                    ["boto3", "client"]
                got = {who: measured(who, lambda who=who: run_one(who,
                                                                   number))
                       for who in order}
                label = "warm-up" if number == 0 else f"round {number}"
                print(f"  {what} {label}: dcor-depot "
                      f"{total / got['client']['seconds'] / 1e6:.0f} MB/s "
                      f"(CPU {got['client']['cpu_s']:.2f} s, S3 server "
                      f"{got['client']['s3_cpu_s']:.2f} s), boto3 "
                      f"{total / got['boto3']['seconds'] / 1e6:.0f} MB/s "
                      f"(CPU {got['boto3']['cpu_s']:.2f} s, S3 server "
                      f"{got['boto3']['s3_cpu_s']:.2f} s), client peak RSS "
                      f"{peaks[-1]:.0f} MB", flush=True)
                if number:
                    rounds.append({**{who: got[who]["seconds"]
                                      for who in got}, "cpu": got})
            return rounds

        print(f"upload of {args.files} x {args.size_mib} MiB: dcor-depot "
              "upload vs boto3 upload_file", flush=True)
        peaks, names = [], []

        def upload(who: str, number: int) -> float:
            if who == "boto3":
                return boto3_upload(s3, plain_bucket, files)
            names.append(f"bench-{uuid.uuid4().hex[:10]}")
            seconds, peak, _ = run_client(
                ["upload", circle["name"], names[-1], str(source),
                 "--public"], env)
            peaks.append(peak)
            return seconds

        uploads = paired_rounds("upload", upload)

        # the backups set sha256: the manifest becomes complete
        print("worker: backups and checksums", flush=True)
        ckan(site.ini, "jobs", "worker", "--burst", "default")
        dataset = site.action("package_show", {"id": names[0]})
        if not all(r.get("sha256") for r in dataset["resources"]):
            raise SystemExit("the worker did not set every sha256")
        bucket = dataset["resources"][0]["s3_url"].split("/")[-5]
        buckets.append(bucket)
        keys = ["/".join(r["s3_url"].split("/")[-4:])
                for r in dataset["resources"]
                if r["name"] != "MANIFEST.sha256"]

        print(f"download of {args.files} x {args.size_mib} MiB: dcor-depot "
              "download (verified) vs boto3 download_file", flush=True)

        def download(who: str, number: int) -> float:
            target = folder / f"target-{number}-{who}"
            if who == "boto3":
                return boto3_download(s3, bucket, keys, target)
            seconds, peak, summary = run_client(
                ["download", names[0], str(target)], env)
            peaks.append(peak)
            if f"{args.files + 1} fetched" not in summary:
                raise SystemExit(f"unexpected: {summary}")
            shutil.rmtree(target)
            return seconds

        downloads = paired_rounds("download", download)

        def ratios(rounds):
            return [r["boto3"] / r["client"] for r in rounds]

        def summary(rounds):
            gib = total / 1024**3
            return {
                "rounds": rounds, "paired_ratios": ratios(rounds),
                "median_ratio": statistics.median(ratios(rounds)),
                "client_mb_per_s": max(total / r["client"] / 1e6
                                       for r in rounds),
                "boto3_mb_per_s": max(total / r["boto3"] / 1e6
                                      for r in rounds),
                # median CPU seconds per GiB of each side and of the S3
                # server while it served that side
                **{f"{who}_{part}_per_gib": statistics.median(
                    r["cpu"][who][part] for r in rounds) / gib
                   for who in ("client", "boto3")
                   for part in ("cpu_s", "s3_cpu_s")}}

        results = {
            "files": args.files, "file_bytes": args.size_mib * 1024**2,
            "upload": summary(uploads), "download": summary(downloads),
            "client_peak_rss_mb": max(peaks)}
        print(f"upload dcor-depot/boto3 median "
              f"{results['upload']['median_ratio']:.2f}; download "
              f"dcor-depot/boto3 median "
              f"{results['download']['median_ratio']:.2f}; client peak RSS "
              f"{results['client_peak_rss_mb']:.0f} MB", flush=True)
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    finally:
        site.stop()
        for bucket in buckets:
            remove_bucket(s3, bucket)
        shutil.rmtree(folder, ignore_errors=True)


def remove_bucket(client, bucket: str) -> None:
    """The S3 server keeps objects in RAM: leave nothing behind."""
    try:
        for upload in client.list_multipart_uploads(
                Bucket=bucket).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                          UploadId=upload["UploadId"])
        for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)
    except client.exceptions.NoSuchBucket:
        pass


if __name__ == "__main__":
    main()
