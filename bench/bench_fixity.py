"""Fixity's reads vs the plain tools, in one run (issue 27, item 4).

- depot copy: `workflows.fixity.check_depot_copy` (what `ckan
  dcor-depot-fixity` runs, with its progress and rate callback) vs
  coreutils `sha256sum` of the same file, page cache dropped before each;
- object: `workflows.fixity.check_object_copy` vs a plain GET plus sha256
  (boto3 `get_object`, the body hashed with hashlib in 1 MiB chunks) of the
  same object on the same S3 server.

Best of N rounds each; prints MB/s and the ratios (target >= 0.9). Needs
root to drop the page cache and the stack's radosgw (or DCOR_S3_*).

    .venv-ckan2.12.0/bin/python bench/bench_fixity.py [--size-mib 1024]
        [--rounds 3] [--json PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import tempfile
import time
import uuid

from ckanext.dcor_depot.cli.fixity import Throttle
from ckanext.dcor_depot.fixity import rules
from ckanext.dcor_depot.storage import s3
from ckanext.dcor_depot.workflows import fixity

ENDPOINT = os.environ.get("DCOR_S3_ENDPOINT", "http://127.0.0.1:7480")
ACCESS = os.environ.get("DCOR_S3_ACCESS_KEY", "DCORDEVACCESSKEY0001")
SECRET = os.environ.get("DCOR_S3_SECRET_KEY",
                        "dcor-dev-secret-key-0000000000000000000001")
MB = 1e6
TARGET_RATIO = 0.9


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def drop_caches() -> None:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
    except OSError:
        raise SystemExit("needs root to drop the page cache") from None


def progress_like_the_command():
    """The callback the command passes: a byte count and the rate check
    (no rate given, as in a run without --max-rate)."""
    throttle = Throttle(None)
    counted = [0]

    def read(count: int) -> None:
        counted[0] += count
        throttle(count)
    return read


def write_file(path: str, size_mib: int) -> str:
    block = os.urandom(16 * 1024**2)
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for _ in range(max(size_mib // 16, 1)):
            handle.write(block)
            digest.update(block)
    return digest.hexdigest()


def plain_get_sha256(client, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(1024**2):
        digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.size_mib < 1 or args.rounds < 1:
        raise SystemExit("--size-mib and --rounds must be at least 1")
    client = s3.client_for(ENDPOINT, ACCESS, SECRET, False, "us-east-1", 5,
                           10)
    bucket = f"dcor-bench-fixity-{uuid.uuid4().hex[:12]}"
    key = "resource/000/000/bench"
    with tempfile.TemporaryDirectory(prefix="dcor-bench-fixity-") as folder:
        path = os.path.join(folder, "data.bin")
        sha256 = write_file(path, args.size_mib)
        size = os.path.getsize(path)
        client.create_bucket(Bucket=bucket)
        try:
            s3.upload_file(client, path, bucket, key, part_size=64 * 1024**2,
                           max_concurrency=4)
            times = {name: float("inf") for name in
                     ("sha256sum", "depot", "get", "object")}
            for _ in range(args.rounds):
                drop_caches()
                times["sha256sum"] = min(times["sha256sum"], timed(
                    lambda: subprocess.run(["sha256sum", path], check=True,
                                           capture_output=True)))
                drop_caches()
                outcome = fixity.Outcome("bench")
                times["depot"] = min(times["depot"], timed(
                    lambda: fixity.check_depot_copy(
                        path, sha256, outcome, progress_like_the_command())))
                assert outcome.found[rules.DEPOT] == rules.OK, outcome
                got = [None]
                times["get"] = min(times["get"], timed(
                    lambda: got.__setitem__(0, plain_get_sha256(
                        client, bucket, key))))
                assert got[0] == sha256
                outcome = fixity.Outcome("bench")
                times["object"] = min(times["object"], timed(
                    lambda: fixity.check_object_copy(
                        client, (bucket, key), sha256, None, False, outcome,
                        progress_like_the_command())))
                assert outcome.found[rules.OBJECT] == rules.OK, outcome
        finally:
            s3.delete_object(client, bucket, key)
            client.delete_bucket(Bucket=bucket)
    speed = {name: size / MB / seconds for name, seconds in times.items()}
    depot_ratio = times["sha256sum"] / times["depot"]
    object_ratio = times["get"] / times["object"]
    print(f"fixity reads of {size / MB:.0f} MB, best of {args.rounds}")
    print(f"sha256sum             {speed['sha256sum']:8.1f} MB/s")
    print(f"fixity, depot copy    {speed['depot']:8.1f} MB/s  ratio "
          f"{depot_ratio:.2f}")
    print(f"GET + sha256          {speed['get']:8.1f} MB/s")
    print(f"fixity, object        {speed['object']:8.1f} MB/s  ratio "
          f"{object_ratio:.2f}")
    met = depot_ratio >= TARGET_RATIO and object_ratio >= TARGET_RATIO
    print(f"target: both ratios >= {TARGET_RATIO}: "
          f"{'met' if met else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"size": size, "rounds": args.rounds,
                       "mb_per_s": speed, "depot_ratio": depot_ratio,
                       "object_ratio": object_ratio,
                       "target_ratio": TARGET_RATIO}, handle, indent=1)


if __name__ == "__main__":
    main()
