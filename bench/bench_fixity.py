"""Fixity's reads vs the plain tools, in one run (issue 27, item 4).

- depot copy: `workflows.fixity.check_depot_copy` (what `ckan
  dcor-depot-fixity` runs, with its progress and rate callback) vs
  coreutils `sha256sum` of the same file, page cache dropped before each;
- object: `workflows.fixity.check_object_copy` vs a plain GET plus sha256
  (boto3 `get_object`, the body hashed with hashlib in 1 MiB chunks) of the
  same object on the same S3 server.

Paired rounds (which of a pair goes first alternates); prints the best
MB/s of each and the median of the rounds' ratios (target >= 0.9). Needs
root to drop the page cache and the stack's radosgw (or DCOR_S3_*).

    .venv-ckan2.12.0/bin/python bench/bench_fixity.py [--size-mib 1024]
        [--rounds 5] [--json PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
import uuid

from ckanext.dcor_depot.cli.fixity import Throttle
from ckanext.dcor_depot.fixity import rules
from ckanext.dcor_depot.storage import s3
from ckanext.dcor_depot.workflows import fixity

# the same timing and cold page cache as the sha256 bench (a sibling
# script: bench/ is on sys.path when a bench runs)
from bench_sha256 import drop_caches, timed

ENDPOINT = os.environ.get("DCOR_S3_ENDPOINT", "http://127.0.0.1:7480")
ACCESS = os.environ.get("DCOR_S3_ACCESS_KEY", "DCORDEVACCESSKEY0001")
SECRET = os.environ.get("DCOR_S3_SECRET_KEY",
                        "dcor-dev-secret-key-0000000000000000000001")
MB = 1e6
TARGET_RATIO = 0.9



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


def measure_round(number: int, path: str, sha256: str, client, bucket: str,
                  key: str) -> dict[str, float]:
    """Seconds of each of the four reads; the pairs alternate which goes
    first, so that neither always meets a warmer server or disk."""
    def plain_file() -> None:
        drop_caches()
        seconds["sha256sum"] = timed(lambda: subprocess.run(
            ["sha256sum", path], check=True, capture_output=True))

    def fixity_file() -> None:
        drop_caches()
        outcome = fixity.Outcome("bench")
        seconds["depot"] = timed(lambda: fixity.check_depot_copy(
            path, sha256, outcome, progress_like_the_command()))
        assert outcome.found[rules.DEPOT] == rules.OK, outcome

    def plain_object() -> None:
        got = []
        seconds["get"] = timed(lambda: got.append(
            plain_get_sha256(client, bucket, key)))
        assert got == [sha256]

    def fixity_object() -> None:
        outcome = fixity.Outcome("bench")
        seconds["object"] = timed(lambda: fixity.check_object_copy(
            client, (bucket, key), sha256, None, False, outcome,
            progress_like_the_command()))
        assert outcome.found[rules.OBJECT] == rules.OK, outcome

    seconds: dict[str, float] = {}
    pairs = [(plain_file, fixity_file), (plain_object, fixity_object)]
    for first, second in pairs:
        if number % 2:
            first, second = second, first
        first()
        second()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
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
            rounds = [measure_round(number, path, sha256, client, bucket,
                                    key) for number in range(args.rounds)]
        finally:
            s3.delete_object(client, bucket, key)
            client.delete_bucket(Bucket=bucket)
    speed = {name: max(size / MB / r[name] for r in rounds)
             for name in rounds[0]}
    depot_ratios = [r["sha256sum"] / r["depot"] for r in rounds]
    object_ratios = [r["get"] / r["object"] for r in rounds]
    depot_ratio = statistics.median(depot_ratios)
    object_ratio = statistics.median(object_ratios)
    print(f"fixity reads of {size / MB:.0f} MB, {args.rounds} paired rounds "
          f"(best speeds, median of the rounds' ratios)")
    print(f"sha256sum             {speed['sha256sum']:8.1f} MB/s")
    print(f"fixity, depot copy    {speed['depot']:8.1f} MB/s  ratio "
          f"{depot_ratio:.2f} ({', '.join(f'{x:.2f}' for x in depot_ratios)})")
    print(f"GET + sha256          {speed['get']:8.1f} MB/s")
    print(f"fixity, object        {speed['object']:8.1f} MB/s  ratio "
          f"{object_ratio:.2f} ({', '.join(f'{x:.2f}' for x in object_ratios)})")
    met = depot_ratio >= TARGET_RATIO and object_ratio >= TARGET_RATIO
    print(f"target: both ratios >= {TARGET_RATIO}: "
          f"{'met' if met else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"size": size, "rounds": args.rounds,
                       "mb_per_s": speed, "depot_ratio": depot_ratio,
                       "object_ratio": object_ratio,
                       "depot_ratios": depot_ratios,
                       "object_ratios": object_ratios,
                       "target_ratio": TARGET_RATIO}, handle, indent=1)


if __name__ == "__main__":
    main()
