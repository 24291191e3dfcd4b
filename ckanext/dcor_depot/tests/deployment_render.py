"""The shipped deploy/ files, rendered for a loopback run (pure).

The files in deploy/ carry an operator's values (port 80, /etc/ckan/default,
/usr/lib/ckan/default, /var/lib/ckan, 127.0.0.1:8080). A loopback run
replaces exactly those values and nothing else, so what the tests, the demo
and the benchmarks run is what operators copy. Every replacement must find
its value: a deploy file that drifts from this list fails loudly here.
"""
from __future__ import annotations

import dataclasses
import re
import shlex

REPO_DEPLOY = "deploy"
NGINX_SITE = "nginx-ckan.conf"
UWSGI_INI = "ckan-uwsgi.ini"
WSGI_FILE = "wsgi.py"
WORKER_UNIT = "ckan-worker@.service"

# the operator's values in deploy/
UPSTREAM = "127.0.0.1:8080"
ACCEL_LOCATION = "/_dcor_storage/"
STORAGE_PATH = "/var/lib/ckan/"
CACHE_ROOT = "/var/cache/nginx/"
ETC = "/etc/ckan/default/"
VENV = "/usr/lib/ckan/default"


class RenderError(ValueError):
    """A deploy file lacks a value the renderer replaces."""


@dataclasses.dataclass(frozen=True)
class Loopback:
    """Where a loopback run puts things."""
    state: str            # folder for caches, temp files, pid files
    nginx_port: int
    uwsgi_port: int
    ckan_ini: str
    venv: str
    wsgi_file: str
    storage_path: str
    accel_location: str   # download_accel_redirect, or ACCEL_LOCATION
    body_limit_mb: int    # ckan.max_resource_size + 1
    processes: int = 2
    threads: int = 4


def _sub(text: str, pattern: str, replacement: str, source: str,
         flags: int = re.MULTILINE) -> str:
    rendered, count = re.subn(pattern, lambda _: replacement, text,
                              flags=flags)
    if not count:
        raise RenderError(f"deploy/{source}: nothing matches {pattern!r}")
    return rendered


def nginx_site(text: str, run: Loopback) -> str:
    """deploy/nginx-ckan.conf for this run."""
    src = NGINX_SITE
    text = _sub(text, r"^(\s*)listen 80;",
                f"    listen 127.0.0.1:{run.nginx_port};", src)
    text = _sub(text, re.escape(f"http://{UPSTREAM}"),
                f"http://127.0.0.1:{run.uwsgi_port}", src)
    text = _sub(text, re.escape(CACHE_ROOT), f"{run.state}/nginx-", src)
    text = _sub(text, r"client_max_body_size \d+M;",
                f"client_max_body_size {run.body_limit_mb}M;", src)
    text = _sub(text, r"location " + re.escape(ACCEL_LOCATION) + " ",
                f"location {run.accel_location} ", src)
    return _sub(text, r"alias " + re.escape(STORAGE_PATH) + ";",
                f"alias {run.storage_path.rstrip('/')}/;", src)


def nginx_main(site_conf: str, state: str, as_root: bool) -> str:
    """The main config around the site, as Debian's /etc/nginx/nginx.conf
    has it (sendfile, tcp_nopush, mime types, gzip), with every path in
    `state`.
    As root, workers stay root: a test's folders are not www-data's."""
    temp = "\n".join(f"    {kind}_temp_path {state}/nginx-{kind};"
                     for kind in ("fastcgi", "uwsgi", "scgi"))
    return (("user root;\n" if as_root else "") +
            f"worker_processes 2;\npid {state}/nginx.pid;\n"
            f"error_log {state}/nginx-error.log info;\n"
            "events { worker_connections 768; }\n"
            "http {\n"
            "    sendfile on;\n    tcp_nopush on;\n"
            "    types_hash_max_size 2048;\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            "    gzip on;\n"
            f"    access_log {state}/nginx-access.log;\n"
            f"{temp}\n"
            f"    include {site_conf};\n"
            "}\n")


def uwsgi_ini(text: str, run: Loopback) -> str:
    """deploy/ckan-uwsgi.ini for this run; uid/gid go (a test runs as
    whoever runs it)."""
    src = UWSGI_INI
    values = {
        "http-socket": f"127.0.0.1:{run.uwsgi_port}",
        "wsgi-file": run.wsgi_file,
        "virtualenv": run.venv,
        "env": f"CKAN_INI={run.ckan_ini}",
        "pidfile": f"{run.state}/uwsgi.pid",
        "processes": str(run.processes),
        "threads": str(run.threads),
    }
    for key, value in values.items():
        text = _sub(text, rf"^{re.escape(key)}\s*=.*$",
                    f"{key} = {value}", src)
    for key in ("uid", "gid"):
        text = _sub(text, rf"^{key}\s*=.*\n", "", src)
    return text


def worker_argv(unit_text: str, venv: str, ckan_ini: str,
                queue: str) -> list[str]:
    """The ExecStart of deploy/ckan-worker@.service for this run."""
    match = re.search(r"^ExecStart=(.+)$", unit_text, re.MULTILINE)
    if not match:
        raise RenderError(f"deploy/{WORKER_UNIT}: no ExecStart line")
    argv = shlex.split(match.group(1))
    if argv[0] != f"{VENV}/bin/ckan" or argv[1:3] != ["-c",
                                                      f"{ETC}ckan.ini"] \
            or argv[3:4] != ["dcor-depot-worker"]:
        raise RenderError(f"deploy/{WORKER_UNIT}: ExecStart is not "
                          f"'{VENV}/bin/ckan -c {ETC}ckan.ini "
                          f"dcor-depot-worker QUEUE': {match.group(1)!r}")
    return [f"{venv}/bin/ckan", "-c", ckan_ini, "dcor-depot-worker", queue]


def body_limit_mb(max_resource_size_mb: int) -> int:
    """client_max_body_size for ckan.max_resource_size: the file plus room
    for the multipart form around it."""
    return int(max_resource_size_mb) + 1
