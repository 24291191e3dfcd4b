"""Maintenance: list a dataset's objects, fixity audit, orphans."""
from __future__ import annotations

import click

import ckan.plugins.toolkit as tk

from ..storage import s3
from ..workflows import orphans, records, verify
from .common import datasets_query, iter_dataset_ids


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
    datasets = [_dataset_or_fail(i)["id"] for i in dataset_ids] or \
        iter_dataset_ids(None)
    count = len(dataset_ids) or datasets_query(None).count()
    problems = checked = 0
    with click.progressbar(datasets, length=count, label="datasets") as bar:
        for dataset_id in bar:
            dataset = records.show_dataset(dataset_id)
            for resource in dataset.get("resources", []):
                checked += 1
                try:
                    found = verify.resource_problems(resource, dataset,
                                                     checksum)
                except Exception as exc:  # report and go on
                    found = [f"cannot check: {exc}"]
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
    search = orphans.OrphanSearch(min_age_hours, remove=delete and not dry_run)
    found = removed = left = 0
    for finding in search.findings():
        if finding.is_orphan:
            found += 1
            removed += finding.removed
            click.echo(f"{finding.what} {finding.location}")
        else:
            left += 1
            click.echo(f"{finding.what}: {finding.location}"
                       + (f" ({finding.reason})" if finding.reason else ""))
    click.echo(f"{found} orphans found, {removed} removed, {left} other "
               f"objects and files left alone")


COMMANDS = [list_s3_objects_for_dataset, depot_verify, depot_orphans]
