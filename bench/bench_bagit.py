"""A BagIt bag (zip) of a dataset through CKAN against today's plain zip of
the same dataset, in one run.

A CKAN site with the plugin (and its worker) holds a public dataset of
4 x 256 MB (append-resource: depot file and S3 object). One client
(requests, streamed, 4 MiB chunks) fetches /dataset/{id}/archive as a
plain zip and with layout=bagit, alternating, and prints each round's
MB/s and the median of the paired ratios bag/plain (the issue asks for
>= 0.95). The bag holds the same members plus dataset.json and four tag
files, all computed before the first byte.

    scripts/stack.sh up
    .venv-ckan2.12.0/bin/python bench/bench_bagit.py [--size-mib 256]
        [--rounds 5] [--json PATH]

DCOR_BENCH_BAGIT_MIB sets --size-mib's default (for quick runs). Own
database (dcor_depot_bench unless DCOR_BENCH_DB) and Redis db 5.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import tempfile
import uuid

import benchdb
from bench_download import USER, fetch, remove_bucket, write_file, write_ini
from benchdb import Site, ckan, free_port


def measure(site: Site, session, dataset: dict, rounds: int) -> dict:
    base = f"{site.url}/dataset/{dataset['id']}/archive?comptype=zip"
    urls = {"plain": base, "bag": base + "&layout=bagit"}
    fetch(session, urls["bag"])  # warm both paths once
    fetch(session, urls["plain"])
    pairs = []
    for number in range(rounds):
        speeds = {}
        order = ("plain", "bag") if number % 2 == 0 else ("bag", "plain")
        for name in order:
            size, seconds = fetch(session, urls[name])
            speeds[name] = size / seconds / 1e6
            speeds[f"{name}_bytes"] = size
        pairs.append(speeds)
        print(f"  round {number + 1}: plain zip {speeds['plain']:.1f} MB/s, "
              f"bag zip {speeds['bag']:.1f} MB/s, ratio "
              f"{speeds['bag'] / speeds['plain']:.3f}", flush=True)
    ratios = [p["bag"] / p["plain"] for p in pairs]
    return {"rounds": pairs, "paired_ratios": ratios,
            "median_ratio": statistics.median(ratios)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=int(
        os.environ.get("DCOR_BENCH_BAGIT_MIB") or 256),
        help="size of each of the 4 files (DCOR_BENCH_BAGIT_MIB)")
    parser.add_argument("--rounds", type=int, default=5)
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
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dcor-bench-bagit-"))
    port = free_port()
    site = Site("bagit", write_ini(folder, port, args.database,
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
        for number in range(4):
            path = folder / f"member-{number}.rtdc"
            write_file(path, args.size_mib * 1024**2, -1)
            ckan(site.ini, "append-resource", str(path), dataset["id"])
            path.unlink()
        bucket = site.action("package_show", {"id": dataset["id"]})[
            "resources"][0]["s3_url"].split("/")[-5]
        print(f"zip of 4 x {args.size_mib} MiB through CKAN: plain vs "
              "BagIt bag", flush=True)
        results = {"size_mib": args.size_mib,
                   "bag_vs_plain_zip": measure(site, requests.Session(),
                                               dataset, args.rounds)}
        print(f"bag/plain zip median "
              f"{results['bag_vs_plain_zip']['median_ratio']:.3f}",
              flush=True)
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    finally:
        site.stop()
        if bucket:
            remove_bucket(bucket)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
