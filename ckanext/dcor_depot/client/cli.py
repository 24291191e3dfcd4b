"""The `dcor-depot` console script (click). Every error ends the command
with one line on stderr and a non-zero exit: 1 for errors and failed
files, 2 for bad usage, 130 after Ctrl+C."""
from __future__ import annotations

import functools
import logging
import os
import pathlib
import sys

import click

from .client import Client
from .errors import ClientError, Interrupted
from .folder import check_folder, write_manifest

log = logging.getLogger("ckanext.dcor_depot.client")

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def setup_logging(verbose: int, log_file: str | None) -> None:
    """-v gives per-file messages (INFO), -vv DEBUG; DCOR_DEPOT_LOGLEVEL
    sets the level too. --log-file writes the same messages to a file
    (at least the per-file ones)."""
    level = logging.WARNING
    env = os.environ.get("DCOR_DEPOT_LOGLEVEL", "").strip().upper()
    if env:
        if env not in LEVELS:
            raise click.BadParameter(f"DCOR_DEPOT_LOGLEVEL must be one of "
                                     f"{', '.join(LEVELS)}, not {env!r}")
        level = getattr(logging, env)
    if verbose:
        level = min(level, logging.DEBUG if verbose > 1 else logging.INFO)
    log.setLevel(min(level, logging.INFO) if log_file else level)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.addHandler(console)
    if log_file:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot write {log_file}: "
                                     f"{exc.strerror}") from None
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(threadName)s: %(message)s"))
        log.addHandler(handler)


def common_options(needs_site: bool):
    """-v, --log-file (and --site, --token) on every command; errors become
    one line and an exit code."""
    def decorate(command):
        @click.option("-v", "--verbose", count=True,
                      help="Per-file messages (-vv: debug).")
        @click.option("--log-file", type=click.Path(dir_okay=False),
                      help="Also write the messages to this file.")
        @functools.wraps(command)
        def wrapper(verbose, log_file, **kwargs):
            setup_logging(verbose, log_file)
            try:
                code = command(**kwargs)
            except Interrupted as exc:
                click.echo(f"Error: {exc}", err=True)
                sys.exit(130)
            except KeyboardInterrupt:
                click.echo("Error: interrupted", err=True)
                sys.exit(130)
            except ClientError as exc:
                click.echo(f"Error: {exc}", err=True)
                sys.exit(1)
            sys.exit(code or 0)
        if needs_site:
            wrapper = click.option(
                "--token", envvar="DCOR_API_TOKEN", metavar="TOKEN",
                help="API token (or DCOR_API_TOKEN).")(wrapper)
            wrapper = click.option(
                "--site", envvar="DCOR_SITE", metavar="URL",
                help="The DCOR site, e.g. dcor.mpl.mpg.de (or "
                     "DCOR_SITE).")(wrapper)
        return wrapper
    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Download and upload DCOR datasets, verified by their manifests."""


@main.command()
@click.option("--circle", metavar="NAME", help="Only this circle's datasets.")
@common_options(needs_site=True)
def datasets(site, token, circle):
    """List the datasets the token may read: name, files, size, title."""
    for item in Client(site, token).datasets(circle):
        flags = "" if item.state == "active" else f" [{item.state}]"
        click.echo(f"{item.name}\t{item.files} files\t"
                   f"{item.total_bytes} bytes\t{item.title}{flags}")


@main.command()
@click.argument("folder", metavar="DIR",
                type=click.Path(exists=True, file_okay=False))
@click.option("--check", is_flag=True,
              help="Check DIR against its MANIFEST.sha256 instead.")
@common_options(needs_site=False)
def manifest(folder, check):
    """Write DIR/MANIFEST.sha256 over every file below DIR (names starting
    with "." are skipped), or --check DIR against it."""
    if not check:
        path = write_manifest(folder)
        click.echo(f"wrote {path}")
        return 0
    result = check_folder(folder)
    for problem in result.problems():
        click.echo(problem)
    if not result.ok:
        click.echo(f"Error: {folder} does not match its manifest: "
                   f"{len(result.problems())} problems", err=True)
        return 1
    click.echo(f"{folder}: all {len(result.sha256)} files match")
    return 0


@main.command()
@click.argument("dataset")
@click.argument("target", type=click.Path(path_type=pathlib.Path))
@click.option("--jobs", "-j", default=4, show_default=True,
              type=click.IntRange(1, 64), help="Files at once.")
@click.option("--partial", is_flag=True,
              help="Download a dataset whose manifest is not complete yet "
                   "(files without sha256 are left out).")
@click.option("--bag", is_flag=True,
              help="Write a BagIt bag, TARGET/01_{dataset}/ (RFC 8493, the "
                   "layout of DCOR-Aid).")
@common_options(needs_site=True)
def download(site, token, dataset, target, jobs, partial, bag):
    """Download DATASET into TARGET/{dataset}/, verified."""
    if bag and partial:
        raise click.UsageError("--bag needs every file: not with --partial")
    client = Client(site, token, jobs=jobs)
    report = client.bag(dataset, target) if bag else \
        client.download(dataset, target, partial=partial)
    for failed in report.files:
        if failed.status == "failed":
            click.echo(f"Error: {failed.path}: {failed.error}", err=True)
    click.echo(report.summary())
    return 0 if report.ok else 1


@main.command()
@click.argument("circle")
@click.argument("target", type=click.Path(path_type=pathlib.Path))
@click.option("--jobs", "-j", default=4, show_default=True,
              type=click.IntRange(1, 64), help="Files at once.")
@common_options(needs_site=True)
def bag(site, token, circle, target, jobs):
    """Every active dataset of CIRCLE as a BagIt bag below TARGET
    ({NN}_{dataset}/, oldest first), with TARGET/circle.jsonlines. A re-run
    skips complete bags and resumes the others."""
    reports = Client(site, token, jobs=jobs).bag_circle(circle, target)
    failed = 0
    for report in reports:
        for item in report.files:
            if item.status == "failed":
                click.echo(f"Error: {item.path}: {item.error}", err=True)
        click.echo(report.summary())
        failed += not report.ok
    click.echo(f"{circle}: {len(reports)} bags, {failed} unfinished -> "
               f"{target}")
    return 1 if failed else 0


@main.command()
@click.argument("circle")
@click.argument("name", metavar="DATASET_NAME")
@click.argument("folder", metavar="DIR",
                type=click.Path(exists=True, file_okay=False))
@click.option("--title", help="The dataset's title (default: its name).")
@click.option("--private/--public", default=True, show_default=True,
              help="Whether the dataset is private to its circle.")
@click.option("--jobs", "-j", default=4, show_default=True,
              type=click.IntRange(1, 64), help="Files at once.")
@common_options(needs_site=True)
def upload(site, token, circle, name, folder, title, private, jobs):
    """Upload the files of DIR as the dataset DATASET_NAME of CIRCLE."""
    report = Client(site, token, jobs=jobs).upload(
        circle, name, folder, title=title, private=private)
    click.echo(report.summary())
    return 0


if __name__ == "__main__":
    main()
