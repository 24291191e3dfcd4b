"""Upload benchmark: the depot's verified upload vs boto3 and rclone.

All upload the same file to the same S3 server in the same run, each in a
fresh subprocess (so peak memory is per method). Prints MB/s, the ratio to
boto3, bytes read from disk per byte uploaded and peak memory. rclone
(`rclone copyto`, Debian's package, installed with apt-get when missing)
runs with its defaults, configured through environment variables only.

    .venv-ckan2.12.0/bin/python bench/bench_upload.py [--size-mib 1024]
        [--methods boto3,depot,rclone]

S3 settings come from DCOR_S3_ENDPOINT / DCOR_S3_ACCESS_KEY /
DCOR_S3_SECRET_KEY, defaulting to the local stack (scripts/s3-stack.sh).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ENDPOINT = os.environ.get("DCOR_S3_ENDPOINT", "http://127.0.0.1:7480")
ACCESS = os.environ.get("DCOR_S3_ACCESS_KEY", "DCORDEVACCESSKEY0001")
SECRET = os.environ.get("DCOR_S3_SECRET_KEY",
                        "dcor-dev-secret-key-0000000000000000000001")
MB = 1e6
METHODS = ("boto3", "depot", "rclone")
RCLONE_REMOTE = "benchs3"


def proc_io() -> dict[str, int]:
    with open("/proc/self/io") as handle:
        return {k: int(v) for k, v in
                (line.split(": ") for line in handle.read().splitlines())}


def make_client(max_pool: int = 10):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=ENDPOINT,
                        aws_access_key_id=ACCESS,
                        aws_secret_access_key=SECRET,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      max_pool_connections=max_pool))


def rclone_env() -> dict[str, str]:
    """An rclone remote from environment variables: no config file."""
    prefix = f"RCLONE_CONFIG_{RCLONE_REMOTE.upper()}_"
    env = dict(os.environ)
    # rclone 1.60's AWS SDK fails on AWS_CA_BUNDLE with its own HTTP
    # transport; the endpoint is plain http, so the bundle is moot
    env.pop("AWS_CA_BUNDLE", None)
    env.update({prefix + "TYPE": "s3", prefix + "PROVIDER": "Ceph",
                prefix + "ENDPOINT": ENDPOINT,
                prefix + "ACCESS_KEY_ID": ACCESS,
                prefix + "SECRET_ACCESS_KEY": SECRET,
                prefix + "REGION": "us-east-1"})
    return env


def ensure_rclone() -> str:
    """The first line of `rclone version`; installs Debian's rclone."""
    if shutil.which("rclone") is None:
        print("rclone is missing: installing it (apt-get install -y rclone)",
              flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-qq", "rclone"]
        ok = subprocess.run(install, env=env, capture_output=True).returncode \
            == 0
        if not ok:  # a stale package list is the usual cause
            subprocess.run(["apt-get", "update", "-qq"], env=env,
                           capture_output=True)
            ok = subprocess.run(install, env=env,
                                capture_output=True).returncode == 0
        if not ok or shutil.which("rclone") is None:
            raise SystemExit("bench_upload: could not install rclone with "
                             "apt-get; install it or leave it out of "
                             "--methods")
    out = subprocess.run(["rclone", "version"], capture_output=True,
                         text=True, check=True).stdout
    return out.splitlines()[0].strip()


def run_rclone(path: str, bucket: str, key: str) -> dict:
    """rclone as a child of this subprocess: wall time, and its CPU, peak
    RSS and reads from the kernel's accounting of the child."""
    size = os.path.getsize(path)
    # a file, not a pipe: nobody reads a pipe until rclone has exited
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        child = subprocess.Popen(
            ["rclone", "copyto", path, f"{RCLONE_REMOTE}:{bucket}/{key}"],
            env=rclone_env(), stdout=log, stderr=subprocess.STDOUT)
        # waiting without reaping keeps /proc/PID/io readable once it has
        # exited
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        seconds = time.perf_counter() - start
        try:
            with open(f"/proc/{child.pid}/io") as handle:
                io = {k: int(v) for k, v in (
                    line.split(": ") for line in handle.read().splitlines())}
        except OSError:
            io = None
        if child.wait() != 0:
            log.seek(0)
            raise SystemExit(f"rclone failed: "
                             f"{log.read().decode()[-2000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "method": "rclone", "seconds": seconds, "size": size,
        "mb_per_s": size / MB / seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "read_per_byte": io["rchar"] / size if io else None,
        "disk_read_per_byte": io["read_bytes"] / size if io else None,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def run_one(method: str, path: str, bucket: str, key: str) -> dict:
    """Runs in the subprocess: one upload, measured."""
    size = os.path.getsize(path)
    if method == "rclone":
        return run_rclone(path, bucket, key)
    if method == "depot":
        from ckanext.dcor_depot.storage import s3
        part_size = int(os.environ.get("BENCH_PART_MIB", "16")) * 1024**2
        concurrency = int(os.environ.get("BENCH_CONCURRENCY", "4"))
        client = s3.client_for(ENDPOINT, ACCESS, SECRET, False, "us-east-1",
                               5, max(10, 2 * concurrency))
        upload = lambda: s3.upload_file(  # noqa: E731
            client, path, bucket, key, part_size=part_size,
            max_concurrency=concurrency)
    elif method == "boto3":
        client = make_client()
        upload = lambda: client.upload_file(path, bucket, key)  # noqa: E731
    else:
        raise SystemExit(f"unknown method {method}")
    io_before = proc_io()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    upload()
    seconds = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    io_after = proc_io()
    return {
        "method": method, "seconds": seconds, "size": size,
        "mb_per_s": size / MB / seconds,
        "cpu_s": (cpu_after.ru_utime + cpu_after.ru_stime)
        - (cpu_before.ru_utime + cpu_before.ru_stime),
        # read() calls on files (and a little from sockets)
        "read_per_byte": (io_after["rchar"] - io_before["rchar"]) / size,
        "disk_read_per_byte":
            (io_after["read_bytes"] - io_before["read_bytes"]) / size,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        / 1024,
    }


def drop_caches() -> bool:
    if os.environ.get("BENCH_KEEP_CACHE"):
        return False
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
        return True
    except OSError:
        return False


def write_file(path: str, size: int) -> None:
    block = os.urandom(16 * 1024**2)
    with open(path, "wb") as handle:
        left = size
        while left:
            handle.write(block[:left])
            left -= min(left, len(block))


SERVER_PROCESSES = ("radosgw", "ceph-osd")


def server_cpu_seconds() -> float:
    """CPU time used so far by the local S3 server's processes: on a
    machine that runs client and server, their CPU is shared."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name in SERVER_PROCESSES:
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated, of %(default)s; boto3 (the "
                        "baseline) always runs")
    parser.add_argument("--one", nargs=4, metavar=("METHOD", "PATH",
                                                   "BUCKET", "KEY"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    if args.size_mib < 1 or args.rounds < 1:
        raise SystemExit("--size-mib and --rounds must be at least 1")
    chosen = {m.strip() for m in args.methods.split(",") if m.strip()}
    if chosen - set(METHODS):
        raise SystemExit(f"unknown method(s) {sorted(chosen - set(METHODS))}"
                         f"; choose from {','.join(METHODS)}")
    methods = [m for m in METHODS if m in chosen | {"boto3"}]
    rclone_version = None
    if "rclone" in methods:
        rclone_version = ensure_rclone()
        print(f"rclone: {rclone_version}", flush=True)

    client = make_client()
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    results: dict[str, list[dict]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory(prefix="dcor-bench-") as folder:
        path = os.path.join(folder, "upload.bin")
        write_file(path, args.size_mib * 1024**2)
        cold = drop_caches()
        try:
            for round_ in range(args.rounds):
                for method in methods:
                    key = f"{method}-{round_}"
                    drop_caches()
                    server_before = server_cpu_seconds()
                    done = subprocess.run(
                        [sys.executable, __file__, "--one", method, path,
                         bucket, key], capture_output=True, text=True)
                    if done.returncode != 0:
                        raise SystemExit(f"{method} upload failed:\n"
                                         f"{done.stderr[-2000:]}")
                    result = json.loads(done.stdout.splitlines()[-1])
                    result["server_cpu_s"] = \
                        server_cpu_seconds() - server_before
                    results[method].append(result)
                    client.delete_object(Bucket=bucket, Key=key)
        finally:
            for item in client.list_objects_v2(Bucket=bucket).get(
                    "Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
            client.delete_bucket(Bucket=bucket)

    best = {m: max(r, key=lambda x: x["mb_per_s"]) for m, r in results.items()}
    print(f"upload of {args.size_mib} MiB to {ENDPOINT}, best of "
          f"{args.rounds} rounds, page cache dropped: {cold}")
    print(f"{'method':<8} {'MB/s':>8} {'ratio':>6} {'read/byte':>10} "
          f"{'disk/byte':>10} {'peak MB':>8} {'CPU s':>6} "
          f"{'server CPU s':>12}")
    for method in methods:
        r = best[method]
        r["ratio_to_boto3"] = r["mb_per_s"] / best["boto3"]["mb_per_s"]
        print(f"{method:<8} {r['mb_per_s']:8.1f} {r['ratio_to_boto3']:6.2f} "
              f"{_fmt(r['read_per_byte'], 10, 3)} "
              f"{_fmt(r['disk_read_per_byte'], 10, 3)} "
              f"{r['peak_rss_mb']:8.0f} {r['cpu_s']:6.1f} "
              f"{r['server_cpu_s']:12.1f}")
    # each round runs the methods back to back: their ratio within a round
    # is a paired comparison, steadier than best against best
    paired = {m: [r["mb_per_s"] / b["mb_per_s"] for r, b in
                  zip(results[m], results["boto3"])] for m in methods}
    for method in methods:
        best[method]["paired_ratios"] = paired[method]
        best[method]["median_paired_ratio"] = statistics.median(
            paired[method])
        if method != "boto3":
            print(f"{method}: ratio to boto3 per round "
                  f"{', '.join(f'{r:.2f}' for r in paired[method])}; "
                  f"median {best[method]['median_paired_ratio']:.2f}")
    print("ratio: MB/s of the method / MB/s of boto3 upload_file; server "
          f"CPU: {', '.join(SERVER_PROCESSES)} during the upload")
    print("depot also computes sha256 and per-part MD5 and verifies the "
          "ETag; boto3 verifies nothing end to end.")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"best": best, "all": results, "methods": methods,
                       "size_mib": args.size_mib, "rounds": args.rounds,
                       "page_cache_dropped": cold, "endpoint": ENDPOINT,
                       "rclone_version": rclone_version}, handle, indent=1)


def _fmt(value: float | None, width: int, digits: int) -> str:
    return f"{value:{width}.{digits}f}" if value is not None \
        else f"{'n/a':>{width}}"


if __name__ == "__main__":
    main()
