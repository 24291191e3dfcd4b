"""`ckan dcor-depot-audit`: prune the audit trail's expired rows (for
cron) and export a time range as JSON lines."""
from __future__ import annotations

import datetime
import json
import sys

import click

from .. import config as dcor_config
from ..audit import rules, store


def _time(ctx, param, value):
    if value is None:
        return None
    try:
        return rules.parse_time(value, f"--{param.name}")
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1]) from None


@click.group("dcor-depot-audit")
def audit_group():
    """The audit trail of storage operations and grants of private
    bytes."""


@audit_group.command("prune")
@click.option("--dry-run", is_flag=True,
              help="Only count the rows that have expired.")
def prune(dry_run):
    """Delete the rows older than `ckanext.dcor_depot.audit_retention_days`
    (the only deletion the table allows)."""
    store.flush_spool()
    days = dcor_config.audit_retention_days()
    cutoff = rules.prune_cutoff(datetime.datetime.utcnow(), days)
    expired = store.expired_count(cutoff)
    if dry_run:
        click.echo(f"{expired} events older than {cutoff:%Y-%m-%d %H:%M} UTC "
                   f"(retention {days} days) would be pruned")
        return
    removed = 0
    with click.progressbar(length=max(expired, 1), label="pruning",
                           file=sys.stderr) as bar:
        for batch in store.prune(cutoff):
            removed += batch
            bar.update(batch)
    click.echo(f"pruned {removed} events older than {cutoff:%Y-%m-%d %H:%M} "
               f"UTC (retention {days} days)")


@audit_group.command("export")
@click.option("--since", callback=_time,
              help="First time to export (ISO 8601, UTC if no zone; "
                   "default: the oldest row).")
@click.option("--until", callback=_time,
              help="Export rows before this time (ISO 8601, UTC if no "
                   "zone; default: now).")
@click.option("--output", "-o", type=click.File("w"), default="-",
              help="File to write the JSON lines to (default: stdout).")
def export(since, until, output):
    """Write the rows of a time range as JSON lines, oldest first,
    streamed from the database."""
    if since is not None and until is not None and since >= until:
        raise click.BadParameter("must be later than --since",
                                 param_hint="--until")
    store.flush_spool()
    written = 0
    total = store.count(store.time_range(since, until))
    with click.progressbar(length=max(total, 1), label="exporting",
                           file=sys.stderr) as bar:
        for row in store.stream(since, until):
            output.write(json.dumps(store.as_json(row), sort_keys=True)
                         + "\n")
            written += 1
            bar.update(1)
    output.flush()
    click.echo(f"exported {written} events", err=True)


COMMANDS = [audit_group]
