"""Maintenance: list a dataset's objects, fixity audit, orphans."""
from __future__ import annotations

import click

import ckan.plugins.toolkit as tk

from .. import config as dcor_config
from ..storage import s3
from ..workflows import orphans, records, verify
from .common import count_resources, iter_resources


def _dataset_or_fail(dataset_id: str) -> dict:
    try:
        return records.show_dataset(dataset_id)
    except tk.ObjectNotFound:
        raise click.ClickException(f"no such dataset: {dataset_id}") from None


@click.command("dcor-list-s3-objects-for-dataset")
@click.argument("dataset_id")
def list_s3_objects_for_dataset(dataset_id):
    """Each artifact's bucket and key, whether it exists and is public."""
    dataset = _dataset_or_fail(dataset_id)
    try:
        listing = list(verify.object_listing(dataset))
    except s3.S3NotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    for rid, artifact, bucket, key, exists, public in listing:
        click.echo(f"{rid} {artifact:9} s3://{bucket}/{key} "
                   f"exists={'yes' if exists else 'no'} "
                   f"public={'yes' if public else 'no'}")


@click.command("dcor-depot-verify")
@click.argument("dataset_ids", nargs=-1)
@click.option("--checksum", is_flag=True,
              help="Read local copies and objects and compare sha256.")
def depot_verify(dataset_ids, checksum):
    """Fixity audit: local copy, object and public tag of every resource."""
    if dataset_ids:
        datasets = [_dataset_or_fail(i) for i in dataset_ids]
        pairs = [(d, r) for d in datasets for r in d.get("resources", [])]
        count = len(pairs)
    else:
        pairs = iter_resources(None, dcor_config.maintenance_page_size())
        count = count_resources(None)
    problems = checked = 0
    checks = verify.problems_of_pairs(
        pairs, checksum, dcor_config.maintenance_page_size(),
        dcor_config.s3_max_concurrency())
    with click.progressbar(checks, length=count, label="resources") as bar:
        for resource, found in bar:
            checked += 1
            for problem in found:
                problems += 1
                click.echo(f"\n{resource['id']}: {problem}")
    click.echo(f"checked {checked} resources: {problems} problems")
    if problems:
        raise SystemExit(1)


@click.command("dcor-depot-orphans")
@click.option("--delete", is_flag=True,
              help="Remove the orphans (objects, depot files and stale "
                   "temporary copies).")
@click.option("--dry-run", is_flag=True, help="Only list, even with --delete.")
@click.option("--min-age-hours", type=click.IntRange(min=0), default=24,
              show_default=True,
              help="Leave younger objects and files alone (direct uploads "
                   "whose resource is not created yet).")
def depot_orphans(delete, dry_run, min_age_hours):
    """Objects and depot files that no live or restorable resource needs."""
    found = removed = left = 0
    # the bar's length is an estimate (recorded objects and one depot file
    # per resource); the summary counts what was really looked at
    with click.progressbar(length=max(orphans.expected_entries(), 1),
                           label="objects and files") as bar:
        search = orphans.OrphanSearch(min_age_hours,
                                      remove=delete and not dry_run,
                                      on_checked=lambda: bar.update(1))
        for finding in search.findings():
            if finding.is_orphan:
                found += 1
                removed += finding.removed
                click.echo(f"\n{finding.what} {finding.location}")
            else:
                left += 1
                click.echo(f"\n{finding.what}: {finding.location}"
                           + (f" ({finding.reason})" if finding.reason
                              else ""))
    click.echo(f"checked {search.checked} objects and files: {found} "
               f"orphans found, {removed} removed, {left} other objects and "
               f"files left alone")


COMMANDS = [list_s3_objects_for_dataset, depot_verify, depot_orphans]
