"""The reference deployment on loopback: nginx -> uWSGI -> CKAN, RQ workers.

Renders the shipped deploy/ files (deployment_render) for free ports and a
state folder, and runs them as unprivileged processes: Debian's nginx with
its own prefix and config (never /etc/nginx, never port 80), uWSGI from
the venv, `ckan dcor-depot-worker` as the systemd unit starts it. Used by the
`deployment` fixture (tests/conftest.py), the demo and the benchmarks:

    python -m ckanext.dcor_depot.tests.deployment serve --ini SITE.INI \
        --state DIR --port 5055 --processes 2 --workers 2

serves until SIGTERM/SIGINT and writes DIR/ready when it answers.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Mapping

import requests

from . import deployment_render as render

REPO = pathlib.Path(__file__).resolve().parents[3]
DEPLOY = REPO / render.REPO_DEPLOY
NGINX = os.environ.get("DCOR_NGINX", "/usr/sbin/nginx")
START_TIMEOUT = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ckan_settings(ini: pathlib.Path) -> Mapping[str, Any]:
    """The [app:main] settings of a CKAN ini, its `use` chain included."""
    from ckan.cli import CKANConfigLoader
    return CKANConfigLoader(str(ini)).get_config()


def site_ini(path: pathlib.Path, base_ini: pathlib.Path,
             settings: Mapping[str, str]) -> pathlib.Path:
    """An ini that uses `base_ini` with `settings` on top; logging sections
    are copied, since wsgi.py configures logging from the ini it serves."""
    text = base_ini.read_text()
    logging = text[text.index("[loggers]"):] if "[loggers]" in text else ""
    lines = [f"{key} = {value}" for key, value in settings.items()]
    path.write_text("[DEFAULT]\ndebug = false\n[app:main]\n"
                    f"use = config:{base_ini}\n" + "\n".join(lines) +
                    "\n\n" + logging)
    return path


class Site:
    """A running deployment; stop() ends every process it started."""

    def __init__(self, ini: pathlib.Path, state: pathlib.Path, *,
                 processes: int = 2, threads: int = 4,
                 nginx_port: int | None = None) -> None:
        self.ini = ini
        self.state = state
        state.mkdir(parents=True, exist_ok=True)
        config = _ckan_settings(ini)
        self.queue = config.get("ckanext.dcor_depot.jobs_queue") or "default"
        self.run = render.Loopback(
            state=str(state), nginx_port=nginx_port or free_port(),
            uwsgi_port=free_port(), ckan_ini=str(ini),
            venv=sys.prefix, wsgi_file=str(DEPLOY / render.WSGI_FILE),
            storage_path=config["ckan.storage_path"],
            accel_location=config.get(
                "ckanext.dcor_depot.download_accel_redirect")
            or render.ACCEL_LOCATION,
            body_limit_mb=render.body_limit_mb(
                config.get("ckan.max_resource_size") or 10),
            processes=processes, threads=threads)
        self.url = f"http://127.0.0.1:{self.run.nginx_port}"
        self.uwsgi_url = f"http://127.0.0.1:{self.run.uwsgi_port}"
        self.cache_dir = state / "nginx-ckan"
        self.nginx_site = state / render.NGINX_SITE
        self.nginx_conf = state / "nginx.conf"
        self.uwsgi_ini = state / render.UWSGI_INI
        self.logs = {"nginx": state / "nginx-error.log",
                     "nginx-access": state / "nginx-access.log",
                     "uwsgi": state / "uwsgi.log"}
        self._processes: dict[str, subprocess.Popen] = {}
        self._workers: list[subprocess.Popen] = []
        self._render()

    def _render(self) -> None:
        self.nginx_site.write_text(render.nginx_site(
            (DEPLOY / render.NGINX_SITE).read_text(), self.run))
        self.nginx_conf.write_text(render.nginx_main(
            str(self.nginx_site), str(self.state), os.geteuid() == 0))
        self.uwsgi_ini.write_text(render.uwsgi_ini(
            (DEPLOY / render.UWSGI_INI).read_text(), self.run))
        self.worker_argv = render.worker_argv(
            (DEPLOY / render.WORKER_UNIT).read_text(), sys.prefix,
            str(self.ini), self.queue)

    def _spawn(self, argv: list[str], log: pathlib.Path,
               **kwargs: Any) -> subprocess.Popen:
        with open(log, "ab") as out:
            return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=REPO,
                                    start_new_session=True, **kwargs)

    def _start_nginx(self) -> None:
        self._processes["nginx"] = self._spawn(
            [NGINX, "-p", str(self.state), "-e",
                      str(self.logs["nginx"]), "-c", str(self.nginx_conf),
                      "-g", "daemon off;"], self.logs["nginx"])

    def start(self, workers: int = 1) -> "Site":
        try:
            self._processes["uwsgi"] = self._spawn(
                [f"{sys.prefix}/bin/uwsgi", "--ini",
                          str(self.uwsgi_ini)], self.logs["uwsgi"])
            self._start_nginx()
            self._wait_ready()
            self.start_workers(workers)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        """Every uWSGI process has loaded CKAN and nginx answers."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode})"
                                       f": {self.tail(name)}")
            if self.uwsgi_apps_ready() >= self.run.processes:
                try:
                    if requests.get(f"{self.url}/api/3/action/status_show",
                                    timeout=10).status_code == 200:
                        return
                except requests.RequestException:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("the deployment did not answer within "
                                   f"{START_TIMEOUT} s: {self.tail('uwsgi')}")
            time.sleep(0.3)

    def edit_nginx_site(self, edit: Callable[[str], str]) -> None:
        """Rewrite the rendered site config with `edit` and restart nginx
        on it (a test of what a wrong config does)."""
        self.nginx_site.write_text(edit(self.nginx_site.read_text()))
        _stop([self._processes.pop("nginx")], signal.SIGQUIT, 20)
        self._start_nginx()
        self._wait_ready()

    def uwsgi_apps_ready(self) -> int:
        """uWSGI processes that loaded CKAN (lazy-apps: each logs it)."""
        text = self.logs["uwsgi"].read_text(errors="replace") \
            if self.logs["uwsgi"].exists() else ""
        return len(set(re.findall(r"WSGI app 0 .* ready .* pid: (\d+)",
                                  text)))

    def start_workers(self, count: int) -> None:
        """`count` more real `ckan dcor-depot-worker` processes, as the
        unit."""
        for _ in range(count):
            number = len(self._workers) + 1
            log = self.state / f"worker-{number}.log"
            self.logs[f"worker-{number}"] = log
            self._workers.append(self._spawn(self.worker_argv, log))

    def stop_workers(self, timeout: float = 60) -> None:
        """SIGTERM, as systemd stops the unit (KillMode=mixed); SIGKILL
        after `timeout`."""
        _stop(self._workers, signal.SIGTERM, timeout)
        self._workers = []

    @property
    def workers(self) -> list[subprocess.Popen]:
        return list(self._workers)

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in
                self._processes.items()}

    def stop(self) -> None:
        self.stop_workers()
        # nginx: SIGQUIT is its graceful stop; uWSGI: die-on-term
        _stop([p for n, p in self._processes.items() if n == "nginx"],
              signal.SIGQUIT, 20)
        _stop([p for n, p in self._processes.items() if n != "nginx"],
              signal.SIGTERM, 30)
        self._processes = {}

    def tail(self, name: str, size: int = 3000) -> str:
        path = self.logs.get(name)
        if not path or not path.exists():
            return ""
        return path.read_text(errors="replace")[-size:]

    def log_tails(self, size: int = 3000) -> dict[str, str]:
        return {name: self.tail(name, size) for name in self.logs}


def _stop(processes: list[subprocess.Popen], sig: int,
          timeout: float) -> None:
    """Signal each process group, wait, SIGKILL what is left."""
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def start(base_ini: pathlib.Path, state: pathlib.Path, *,
          processes: int = 2, threads: int = 4, workers: int = 1,
          settings: Mapping[str, str] | None = None,
          nginx_port: int | None = None) -> Site:
    """Serve `base_ini` (plus settings) through the reference deployment.
    By default the site's URL is nginx's and depot downloads go through
    X-Accel-Redirect; `settings` may override any key."""
    nginx_port = nginx_port or free_port()
    values = {"ckan.site_url": f"http://127.0.0.1:{nginx_port}",
              "ckanext.dcor_depot.download_accel_redirect":
                  render.ACCEL_LOCATION}
    values.update(settings or {})
    state.mkdir(parents=True, exist_ok=True)
    ini = site_ini(state / "site.ini", base_ini, values)
    return Site(ini, state, processes=processes, threads=threads,
                nginx_port=nginx_port).start(workers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve an ini until stopped")
    serve.add_argument("--ini", required=True, type=pathlib.Path)
    serve.add_argument("--state", required=True, type=pathlib.Path)
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--processes", type=int, default=2)
    serve.add_argument("--threads", type=int, default=4)
    serve.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not args.ini.is_file():
        parser.error(f"--ini {args.ini}: no such file")
    for name in ("processes", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.workers < 0 or not 0 <= args.port < 65536:
        parser.error("--workers must be >= 0 and --port a port number")
    ready = args.state / "ready"
    ready.unlink(missing_ok=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    args.state.mkdir(parents=True, exist_ok=True)
    site = Site(args.ini.resolve(), args.state.resolve(),
                processes=args.processes, threads=args.threads,
                nginx_port=args.port or None).start(args.workers)
    try:
        ready.write_text(f"{site.url} {site.uwsgi_url}\n")
        while not stopping:
            time.sleep(0.5)
    finally:
        ready.unlink(missing_ok=True)
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
