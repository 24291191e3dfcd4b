"""The benches' own CKAN database and ini files, apart from the test suite's.

The test suite wipes dcor_depot_test while it runs; a bench that wrote
there at the same time would break the tests and itself.
"""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
CKAN = pathlib.Path(sys.executable).with_name("ckan")
PG_HOST, PG_PORT = "127.0.0.1", "5432"
DB_USER = "dcor"
DB_NAME = "dcor_depot_bench"
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


def write_ini(path: pathlib.Path, settings: dict[str, str]) -> pathlib.Path:
    """test.ini with the given keys replaced (each must be there once)."""
    text = (REPO / "test.ini").read_text()
    for key, value in settings.items():
        text, n = re.subn(rf"(?m)^{re.escape(key)} = .*$",
                          f"{key} = {value}", text)
        if n != 1:
            raise SystemExit(f"test.ini has no single line for {key}")
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
