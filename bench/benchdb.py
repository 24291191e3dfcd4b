"""The benches' own CKAN database and ini files, apart from the test suite's.

The test suite wipes dcor_depot_test while it runs; a bench that wrote
there at the same time would break the tests and itself.
"""
from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
CKAN = pathlib.Path(sys.executable).with_name("ckan")
PG_HOST, PG_PORT = "127.0.0.1", "5432"
DB_USER = "dcor"
# DCOR_BENCH_DB: another database, e.g. for a branch whose migrations the
# shared bench database must not get yet
DB_NAME = os.environ.get("DCOR_BENCH_DB") or "dcor_depot_bench"
REDIS_DB = 5


def pg_admin(sql: str) -> str:
    """SQL as the PostgreSQL superuser, as scripts/stack.sh does: over TCP
    where trust auth allows it, else as the postgres system user."""
    tcp = ["psql", "-h", PG_HOST, "-p", PG_PORT, "-U", "postgres",
           "-d", "postgres"]
    probe = subprocess.run(tcp + ["-tAc", "select 1"], capture_output=True,
                           stdin=subprocess.DEVNULL)
    base = tcp if probe.returncode == 0 else \
        ["runuser", "-u", "postgres", "--", "psql", "-d", "postgres"]
    return subprocess.run(base + ["-v", "ON_ERROR_STOP=1", "-tAc", sql],
                          capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL).stdout.strip()


def ensure_database(name: str = DB_NAME) -> None:
    """Create the database (owned by the stack's role) when missing."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"not a plain database name: {name!r}")
    if pg_admin(f"select 1 from pg_roles where rolname='{DB_USER}'") != "1":
        raise SystemExit(f"no PostgreSQL role {DB_USER}: run "
                         "scripts/stack.sh up first")
    if pg_admin(f"select 1 from pg_database where datname='{name}'") != "1":
        print(f"creating database {name}", flush=True)
        pg_admin(f"create database {name} owner {DB_USER} "
                 "encoding 'utf8' template template0")


def write_ini(path: pathlib.Path, settings: dict[str, str],
              added: dict[str, str] | None = None) -> pathlib.Path:
    """test.ini with the given keys replaced (each must be there once) and
    the `added` ones (which it must lack) put into [app:main]."""
    text = (REPO / "test.ini").read_text()
    for key, value in settings.items():
        text, n = re.subn(rf"(?m)^{re.escape(key)} = .*$",
                          f"{key} = {value}", text)
        if n != 1:
            raise SystemExit(f"test.ini has no single line for {key}")
    for key, value in (added or {}).items():
        if re.search(rf"(?m)^{re.escape(key)} = ", text):
            raise SystemExit(f"test.ini already sets {key}")
        text = text.replace("[app:main]\n", f"[app:main]\n{key} = {value}\n",
                            1)
    path.write_text(text)
    return path


def database_settings(name: str = DB_NAME,
                      redis_db: int = REDIS_DB) -> dict[str, str]:
    return {
        "sqlalchemy.url":
            f"postgresql://{DB_USER}:dcor@{PG_HOST}:{PG_PORT}/{name}",
        "ckan.redis.url": f"redis://127.0.0.1:6379/{redis_db}",
    }


def ckan(ini: pathlib.Path, *args: str, check: bool = True) -> str:
    done = subprocess.run([str(CKAN), "-c", str(ini), *args],
                          capture_output=True, text=True, cwd=REPO)
    if check and done.returncode != 0:
        raise SystemExit(f"ckan {' '.join(args)} failed:\n"
                         f"{done.stderr[-2000:]}")
    return done.stdout


def init_database(ini: pathlib.Path) -> None:
    """`ckan db init` and the extension's own migrations: create the tables
    or bring them up to date."""
    ckan(ini, "db", "init")
    ckan(ini, "db", "upgrade", "-p", "dcor_depot")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    def __init__(self, name: str, ini: pathlib.Path, port: int):
        self.name, self.ini, self.port = name, ini, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = ini.with_suffix(".log")
        self.process: subprocess.Popen | None = None
        self.session = None
        self.times: list[float] = []

    def start(self) -> None:
        # no reloader (an edit in the checkout would restart a site
        # mid-measurement) and no debugger: one plain process per site
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(CKAN), "-c", str(self.ini), "run", "-H", "127.0.0.1",
             "-p", str(self.port), "-r", "-D"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO,
            start_new_session=True)

    def wait_ready(self, timeout: float = 180) -> dict:
        import requests
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"site {self.name} exited:\n"
                                 f"{self.log_path.read_text()[-2000:]}")
            try:
                answer = requests.get(
                    f"{self.url}/api/3/action/status_show", timeout=5)
                if answer.ok:
                    return answer.json()["result"]
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise SystemExit(f"site {self.name} did not answer in {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # the group is the one this script started (start_new_session)
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()

    def action(self, name: str, data: dict | None = None, files=None,
               timed: bool = False) -> dict:
        start = time.perf_counter()
        answer = self.session.post(f"{self.url}/api/3/action/{name}",
                                   json=None if files else data,
                                   data=data if files else None,
                                   files=files, timeout=60)
        seconds = time.perf_counter() - start
        if answer.status_code != 200 or not answer.json().get("success"):
            raise SystemExit(f"{name} on site {self.name} failed: "
                             f"{answer.status_code} {answer.text[:1000]}")
        if timed:
            self.times.append(seconds)
        return answer.json()["result"]


def s3_client():
    """A plain boto3 client on the S3 server of test.ini."""
    import configparser

    import boto3
    from botocore.config import Config

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(REPO / "test.ini")
    app = parser["app:main"]
    return boto3.client(
        "s3", endpoint_url=app["dcor_object_store.endpoint_url"],
        aws_access_key_id=app["dcor_object_store.access_key_id"],
        aws_secret_access_key=app["dcor_object_store.secret_access_key"],
        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def s3_server_pid(daemon: str = "rgw") -> int:
    """A daemon of the local S3 stack (radosgw, "osd", ...) by its pid
    file."""
    stack = os.environ.get("DCOR_STACK_DIR", "/var/lib/dcor-depot-stack")
    for path in pathlib.Path(stack, "ceph", "run").glob(f"*{daemon}*.pid"):
        return int(path.read_text().strip())
    raise SystemExit(f"no {daemon} pid file below {stack}/ceph/run")


# What the request-latency benches share

def request_arguments(description: str, requests: int = 200,
                      warmup: int = 10):
    """The arguments of a bench that times requests: --requests, --warmup,
    --redis-db, --database and --json, checked."""
    import argparse
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--requests", type=int, default=requests,
                        help="measured requests per measure and baseline")
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    parser.add_argument("--database", default=DB_NAME,
                        help="created when missing")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.requests < 20 or args.warmup < 0:
        raise SystemExit("--requests must be at least 20")
    return args


def percentiles(times: list[float]) -> dict:
    """p50, p95 and the least of request times (seconds), in ms."""
    import statistics
    ms = sorted(t * 1000 for t in times)
    return {"samples": len(ms), "p50_ms": statistics.median(ms),
            "p95_ms": statistics.quantiles(ms, n=20)[18], "min_ms": ms[0]}


def admin_token(ini: pathlib.Path, name: str) -> str:
    """A sysadmin `name` (made when missing) and a new API token of his."""
    ckan(ini, "user", "add", name, f"email={name}@localhost",
         "password=dcor-bench-admin", check=False)
    ckan(ini, "sysadmin", "add", name)
    return ckan(ini, "user", "token", "add", name,
                "bench").strip().splitlines()[-1].strip()


def stored_file(site: "Site", name_prefix: str, private: bool,
                data: bytes = b"cells" * 2000) -> tuple[dict, dict, dict]:
    """A new circle with one dataset of one uploaded file, which a
    burst worker has stored: (circle, dataset, resource)."""
    import uuid
    circle = site.action("organization_create", {
        "name": f"bench-{uuid.uuid4().hex[:10]}"})
    dataset = site.action("package_create", {
        "name": f"{name_prefix}-{uuid.uuid4().hex[:10]}",
        "owner_org": circle["id"], "private": private})
    resource = site.action(
        "resource_create", {"package_id": dataset["id"],
                            "name": "cells.rtdc"},
        files={"upload": ("cells.rtdc", data)})
    print("worker: store the file and its checksums", flush=True)
    ckan(site.ini, "jobs", "worker", "--burst", "default")
    shown = site.action("resource_show", {"id": resource["id"]})
    if not shown.get("sha256"):
        raise SystemExit("the worker did not store the file")
    return circle, dataset, shown


def tear_down(sites: list["Site"], redis_store, folder: pathlib.Path
              ) -> None:
    """Stop the sites, flush the bench's Redis db, remove its folder."""
    import shutil
    for site in sites:
        site.stop()
    try:
        redis_store.flushdb()
    except Exception:  # Redis gone: nothing to flush
        pass
    shutil.rmtree(folder, ignore_errors=True)
