"""`ckan dcor-depot-doctor`: checks a running site's configuration end to
end, one line per check."""
from __future__ import annotations

import os

import click

import ckan.plugins.toolkit as tk

from ..doctor import probes, verdicts

DEFAULT_NGINX_CONF = "/etc/nginx/nginx.conf"


def _guarded(name: str, check, *args) -> list[verdicts.Result]:
    """A check that breaks in an unforeseen way is a failed check."""
    try:
        return check(*args)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return [verdicts.fail(name, f"{type(exc).__name__}: {exc}")]


@click.command("dcor-depot-doctor")
@click.option("--worker-timeout", type=click.FloatRange(1, 3600),
              default=30, show_default=True,
              help="Seconds a worker has to take the probe job.")
@click.option("--nginx-conf", type=click.Path(dir_okay=False),
              default=None,
              help=f"nginx's main config (default {DEFAULT_NGINX_CONF} if "
                   "it exists), read for its upload limit.")
def doctor_command(worker_timeout, nginx_conf):
    """Check the object store (keys, clock, bucket policy), the depot
    path, Redis, a worker, the front server's X-Accel-Redirect location
    and its upload limit. Prints one line per check; exits 1 if any
    failed. Run it after every change to the site."""
    if nginx_conf is None and os.path.exists(DEFAULT_NGINX_CONF):
        nginx_conf = DEFAULT_NGINX_CONF
    elif nginx_conf is not None and not os.path.isfile(nginx_conf):
        raise click.BadParameter(f"{nginx_conf}: no such file",
                                 param_hint="--nginx-conf")
    site_url = tk.config.get("ckan.site_url") or ""
    results: list[verdicts.Result] = []

    def run(name, check, *args):
        for result in _guarded(name, check, *args):
            results.append(result)
            click.echo(result.line)

    run("S3", probes.s3_and_clock)
    if results[0].status == verdicts.OK:
        run("bucket policy", probes.bucket_policies)
    else:
        run("bucket policy", lambda: [verdicts.skip(
            "bucket policy", "needs a working S3 connection")])
    run("depot", probes.depot_path)
    run("Redis", probes.redis)
    if results[-1].status == verdicts.OK:
        run("worker", probes.worker, worker_timeout)
        run("X-Accel-Redirect", probes.accel_location, site_url)
    run("upload size", probes.body_limit, nginx_conf, site_url)
    click.echo(verdicts.summary(results))
    raise SystemExit(verdicts.exit_code(results))


COMMANDS = [doctor_command]
