"""sha256 of a file: the depot's hashing vs coreutils `sha256sum`.

Both hash the same file in the same run, each with the page cache dropped
first (the depot's verification reads drop it too), best of N rounds.
Prints MB/s and the ratio. Needs root to drop the cache.

    .venv-ckan2.12.0/bin/python bench/bench_sha256.py [--size-mib 1024]
        [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time

from ckanext.dcor_depot.storage import depot

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.size_mib < 1 or args.rounds < 1:
        raise SystemExit("--size-mib and --rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="dcor-bench-sha-") as folder:
        path = os.path.join(folder, "data.bin")
        block = os.urandom(16 * 1024**2)
        with open(path, "wb") as handle:
            for _ in range(args.size_mib // 16 or 1):
                handle.write(block)
        size = os.path.getsize(path)
        ours = theirs = float("inf")
        for _ in range(args.rounds):
            drop_caches()
            theirs = min(theirs, timed(lambda: subprocess.run(
                ["sha256sum", path], check=True, capture_output=True)))
            drop_caches()
            ours = min(ours, timed(lambda: depot.file_info(path)))
    print(f"sha256 of {size / MB:.0f} MB, best of {args.rounds}")
    print(f"sha256sum  {size / MB / theirs:8.1f} MB/s")
    print(f"depot      {size / MB / ours:8.1f} MB/s  ratio "
          f"{theirs / ours:.2f}")
    ratio = theirs / ours
    print(f"target: ratio >= {TARGET_RATIO}: "
          f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"size": size, "rounds": args.rounds,
                       "sha256sum_mb_per_s": size / MB / theirs,
                       "depot_mb_per_s": size / MB / ours,
                       "ratio": ratio, "target_ratio": TARGET_RATIO},
                      handle, indent=1)


if __name__ == "__main__":
    main()
