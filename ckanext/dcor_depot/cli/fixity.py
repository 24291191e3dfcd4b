"""`ckan dcor-depot-fixity`: read both copies of the resources verified
longest ago, within a byte budget and a rate, repair from the verified
twin, report how far behind the window the site is (meant for cron)."""
from __future__ import annotations

import collections
import datetime
import time

import click
import sqlalchemy as sa

from ckan import model

from .. import audit
from .. import config as dcor_config
from ..accounting.rules import human_bytes
from ..fixity import rules, store
from ..workflows import fixity
from .progress import byte_progress


class ByteCount(click.ParamType):
    name = "bytes"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return rules.parse_bytes(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _resolve(kind: str, table, refs: tuple[str, ...],
             by_name: bool) -> tuple[str, ...]:
    """Ids of the named rows; a one-line error for the first unknown."""
    ids = []
    for ref in dict.fromkeys(refs):
        match = table.c.id == ref
        if by_name:
            match = sa.or_(match, table.c.name == ref)
        query = sa.select(table.c.id).where(match, table.c.state != "deleted")
        found = model.Session.execute(query).scalar()
        if found is None:
            raise click.BadParameter(f"no such {kind}: {ref}",
                                     param_hint=f"--{kind}")
        ids.append(found)
    return tuple(ids)


class Throttle:
    """Sleeps in the read loop so that the bytes read stay within a rate."""

    def __init__(self, max_rate: float | None) -> None:
        self.max_rate = max_rate
        self.done = 0
        self.started = time.monotonic()

    def __call__(self, count: int) -> None:
        self.done += count
        wait = rules.pause_for(self.done, time.monotonic() - self.started,
                               self.max_rate)
        if wait > 0:
            time.sleep(wait)


@click.command("dcor-depot-fixity")
@click.option("--max-bytes", type=ByteCount(), default=None,
              help="Read at most this many bytes in this run (e.g. 500G, "
                   "2TiB); the copies verified longest ago go first. "
                   "Default: no limit.")
@click.option("--max-rate", type=click.FloatRange(min=0, min_open=True),
              default=None, help="Read at most this many MB/s (10^6 bytes "
                                 "per second). Default: no limit.")
@click.option("--resource", "resources", multiple=True, metavar="ID",
              help="Check this resource now (repeatable).")
@click.option("--dataset", "datasets", multiple=True, metavar="ID_OR_NAME",
              help="Check this dataset's resources now (repeatable).")
@click.option("--circle", "circles", multiple=True, metavar="ID_OR_NAME",
              help="Check this circle's resources now (repeatable).")
@click.option("--dry-run", is_flag=True,
              help="Only list what would be read within the budget; read, "
                   "repair and record nothing.")
def depot_fixity(max_bytes, max_rate, resources, datasets, circles,
                 dry_run):
    """Read the depot file and the object of each stored resource, least
    recently verified first, and compare each with the resource's sha256.
    A bad or missing copy is replaced from its twin, verified in the same
    run; a resource with no good copy is marked `integrity: failed` (its
    downloads answer 409) until a later run finds a good copy again."""
    scope = store.Scope(
        resource_ids=_resolve("resource", model.resource_table, resources,
                              by_name=False),
        dataset_ids=_resolve("dataset", model.package_table, datasets,
                             by_name=True),
        circle_ids=_resolve("circle", model.group_table, circles,
                            by_name=True))
    s3_on = dcor_config.s3_enabled()
    copies = len(rules.COPIES) if s3_on else 1
    started = datetime.datetime.utcnow()
    window = dcor_config.fixity_window_days()
    count, one_copy_bytes = store.count_in_scope(scope, s3_on)
    planned = one_copy_bytes * copies
    if max_bytes is not None:
        planned = min(planned, max_bytes)

    budget = rules.Budget(max_bytes)
    tally: collections.Counter = collections.Counter()
    throttle = Throttle(max_rate * 1e6 if max_rate else None)
    with byte_progress(planned, "fixity") as advance:
        def read(count: int) -> None:
            advance(count)
            throttle(count)

        for due in store.due_resources(scope, started, s3_on):
            cost = rules.resource_cost(due.size, copies)
            decision = budget.decide(cost)
            if decision == rules.STOP:
                tally["left for later"] += 1
                break
            if decision == rules.TOO_LARGE:
                tally["skipped"] += 1
                click.echo(f"\n{due.resource_id}: skipped, "
                           f"{human_bytes(cost)} to read is more than "
                           f"--max-bytes")
                continue
            budget.spend(cost)
            if dry_run:
                last = "never" if due.due_at == rules.NEVER else \
                    due.due_at.isoformat(sep=" ", timespec="seconds")
                click.echo(f"\nwould read {due.resource_id} "
                           f"({human_bytes(cost)}, last read {last})")
                tally["would read"] += 1
                continue
            try:
                with audit.acting_as(rules.AUDIT_ACTOR):
                    outcome = fixity.check_resource(due.resource_id, read)
            except Exception as exc:  # report, go on with the next one
                tally["errors"] += 1
                click.echo(f"{due.resource_id}: cannot check: {exc}",
                           err=True)
                continue
            _tally(outcome, tally)
    _summary(tally, dry_run, budget.spent)
    click.echo(rules.backlog_line(
        store.backlog(window, datetime.datetime.utcnow(), s3_on), window,
        datetime.datetime.utcnow()))
    if tally["failed"] or tally["errors"]:
        raise SystemExit(1)


def _tally(outcome: fixity.Outcome, tally: collections.Counter) -> None:
    if outcome.skipped:
        tally["skipped"] += 1
        click.echo(f"\n{outcome.resource_id}: skipped, {outcome.skipped}")
        return
    for copy, found in outcome.found.items():
        tally[{rules.OK: "verified", rules.MISMATCH: "mismatched",
               rules.MISSING: "missing"}.get(found, found)] += 1
        if outcome.results.get(copy) == rules.REPAIRED:
            tally["repaired"] += 1
    for line in outcome.details:
        click.echo(f"\n{outcome.resource_id}: {line}")
    if outcome.failed:
        tally["failed"] += 1
        # on stderr: cron mails it while the rest goes to the log
        click.echo(f"{outcome.resource_id}: integrity: failed, no good "
                   "copy; nothing was replaced", err=True)
    if outcome.cleared:
        tally["cleared"] += 1
        click.echo(f"\n{outcome.resource_id}: integrity mark cleared, a "
                   "good copy is back")


def _summary(tally: collections.Counter, dry_run: bool, spent: int) -> None:
    if dry_run:
        click.echo(f"dry run: would read {tally['would read']} resources "
                   f"({human_bytes(spent)}), skipped {tally['skipped']}"
                   + (", the rest is left for later runs"
                      if tally["left for later"] else ""))
        return
    click.echo(f"verified {tally['verified']}, mismatched "
               f"{tally['mismatched']}, repaired {tally['repaired']}, "
               f"missing {tally['missing']}, skipped {tally['skipped']} "
               f"(copies; skipped: resources); integrity failed "
               f"{tally['failed']}, cleared {tally['cleared']}"
               + (f"; {tally['errors']} could not be checked"
                  if tally["errors"] else "")
               + ("; budget reached, the rest is left for later runs"
                  if tally["left for later"] else ""))


COMMANDS = [depot_fixity]
