"""Archive engine: streaming a zip and a tar of local files vs reading the
same files plainly, with the same chunk size. Prints MB/s, the ratio to the
plain read, and peak RSS (the engine must not grow with the archive).

By default the files are read from the page cache (read once before
timing), so the figures are the engine's own cost: the sha256 (and CRC-32
for zip) every member needs, headers, chunk hand-over. "read+sha256" is the
floor of any streamer that verifies as it sends. --cold drops the page
cache before every round (needs root), as a download of files not read
lately would see. Best of N rounds.

    .venv-ckan2.12.0/bin/python bench/bench_archive_engine.py
        [--size-mib 1024] [--files 8] [--chunk-mib 1] [--rounds 3]
        [--cold] [--json PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import tempfile
import time
import zlib

from ckanext.dcor_depot.downloads import archive_layout, archive_stream

MB = 1e6
MIB = 1024 ** 2


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_chunks(path: str, offset: int, chunk: int):
    with open(path, "rb") as handle:
        handle.seek(offset)
        while block := handle.read(chunk):
            yield block


def write_files(folder: str, count: int, size: int):
    """Random files, hashed while written; returns members and paths."""
    members, paths = [], {}
    for index in range(count):
        key = f"rid-{index}"
        path = paths[key] = os.path.join(folder, key)
        sha256, crc = hashlib.sha256(), 0
        with open(path, "wb") as handle:
            for _ in range(size // MIB):
                block = os.urandom(MIB)
                sha256.update(block)
                crc = zlib.crc32(block, crc)
                handle.write(block)
        members.append(archive_layout.Member(
            path=f"bench dataset/resource {index}.rtdc", size=size,
            mtime=1_700_000_000, sha256=sha256.hexdigest(), crc32=crc,
            key=key))
    return members, paths


def drop_caches() -> None:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
    except OSError:
        raise SystemExit("--cold needs root to drop the page cache") from None


def best_time(rounds: int, action, cold: bool) -> float:
    best = float("inf")
    for _ in range(rounds):
        if cold:
            drop_caches()
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--chunk-mib", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", action="store_true",
                        help="drop the page cache before each round")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if min(args.size_mib, args.files, args.chunk_mib, args.rounds) < 1 \
            or args.size_mib < args.files:
        raise SystemExit("all options must be >= 1 and --size-mib >= --files")
    chunk = args.chunk_mib * MIB
    with tempfile.TemporaryDirectory(prefix="dcor-bench-archive-") as folder:
        members, paths = write_files(folder, args.files,
                                     args.size_mib // args.files * MIB)
        total = sum(m.size for m in members)

        def plain(with_hash: bool):
            for member in members:
                sha256 = hashlib.sha256()
                for block in read_chunks(paths[member.key], 0, chunk):
                    if with_hash:
                        sha256.update(block)

        def open_member(member, offset):
            return read_chunks(paths[member.key], offset, chunk)

        def engine(comptype: str):
            layout = archive_layout.build(members, comptype)
            sent = 0
            for block in archive_stream.stream(
                    layout, 0, layout.length - 1, open_member, failed):
                sent += len(block)
            assert sent == layout.length, (sent, layout.length)

        plain(False)  # into the page cache
        rss_before = rss_mib()
        actions = {
            "plain read": lambda: plain(False),
            "read+sha256": lambda: plain(True),
            "engine zip": lambda: engine("zip"),
            "engine tar": lambda: engine("tar"),
        }
        seconds = {name: best_time(args.rounds, action, args.cold)
                   for name, action in actions.items()}
    print(f"{total / MB:.0f} MB in {args.files} files, chunks of "
          f"{args.chunk_mib} MiB, page cache "
          f"{'dropped' if args.cold else 'warm'}, best of {args.rounds}")
    for name, taken in seconds.items():
        print(f"{name:12s} {total / MB / taken:8.1f} MB/s  ratio to plain "
              f"read {seconds['plain read'] / taken:.2f}  to read+sha256 "
              f"{seconds['read+sha256'] / taken:.2f}")
    print(f"RSS before streaming {rss_before:.1f} MiB, peak RSS "
          f"{peak_rss_mib():.1f} MiB")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"bytes": total, "files": args.files,
                       "chunk_mib": args.chunk_mib, "rounds": args.rounds,
                       "cold": args.cold,
                       "mb_per_s": {k: total / MB / v
                                    for k, v in seconds.items()},
                       "rss_before_mib": rss_before,
                       "peak_rss_mib": peak_rss_mib()}, handle, indent=1)


def failed(member, message):
    raise SystemExit(f"integrity error during the benchmark: {message}")


if __name__ == "__main__":
    main()
