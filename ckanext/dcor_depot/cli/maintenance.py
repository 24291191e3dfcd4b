"""Maintenance: list a dataset's objects, fixity audit, orphans."""
from __future__ import annotations

import os

import click

import ckan.plugins.toolkit as tk

from .. import config as dcor_config
from .. import naming, pipeline
from ..storage import depot, s3
from ..workflows import orphans
from .common import datasets_query, iter_dataset_ids


def _client():
    try:
        return s3.get_client()
    except s3.S3NotConfigured as exc:
        raise click.ClickException(str(exc)) from None


def _dataset_or_fail(dataset_id: str) -> dict:
    try:
        return pipeline.show_dataset(dataset_id)
    except tk.ObjectNotFound:
        raise click.ClickException(f"no such dataset: {dataset_id}") from None


@click.command("dcor-list-s3-objects-for-dataset")
@click.argument("dataset_id")
def list_s3_objects_for_dataset(dataset_id):
    """Each artifact's bucket and key, whether it exists and is public."""
    dataset = _dataset_or_fail(dataset_id)
    client = _client()
    for resource in dataset.get("resources", []):
        for artifact in naming.ARTIFACTS:
            bucket, key = pipeline.object_location(resource, dataset,
                                                   artifact)
            exists = s3.object_head(client, bucket, key) is not None
            public = exists and s3.is_public(client, bucket, key)
            click.echo(f"{resource['id']} {artifact:9} s3://{bucket}/{key} "
                       f"exists={'yes' if exists else 'no'} "
                       f"public={'yes' if public else 'no'}")


def resource_problems(client, resource, dataset, checksum: bool) -> list[str]:
    """What is wrong with one resource's copies (empty list: all fine)."""
    problems = []
    if resource.get("url_type") not in ("upload", pipeline.S3_UPLOAD):
        return problems
    try:
        # CKAN accepts any id a client chose; ours are UUIDs
        path = pipeline.ckan_path(resource["id"])
    except ValueError as exc:
        return [str(exc)]
    sha256 = resource.get("sha256")
    if not os.path.isfile(path):
        if not (resource.get("s3_available") and not os.path.lexists(path)):
            problems.append(f"no local copy at {path}")
    elif checksum:
        info = depot.sha256_of_file(path)
        if info.sha256 != sha256:
            problems.append(f"local copy has sha256 {info.sha256}, the "
                            f"resource says {sha256}")
    elif resource.get("size") is not None and \
            os.path.getsize(path) != resource.get("size"):
        problems.append(f"local copy has {os.path.getsize(path)} bytes, "
                        f"the resource says {resource.get('size')}")
    if dcor_config.s3_enabled():
        bucket, key = pipeline.object_location(resource, dataset)
        head = s3.object_head(client, bucket, key)
        if head is None:
            problems.append(f"no object s3://{bucket}/{key}")
        else:
            tags = s3.object_tags(client, bucket, key)
            if tags.get(s3.SHA256_TAG) != sha256:
                problems.append(f"object is tagged sha256 "
                                f"{tags.get(s3.SHA256_TAG)}, the resource "
                                f"says {sha256}")
            public = tags.get("public") == "true"
            if public != pipeline.dataset_is_public(dataset):
                problems.append(f"object is {'public' if public else 'private'}"
                                f" but the dataset is "
                                f"{'public' if not public else 'not public'}")
            if checksum and s3.object_sha256(client, bucket, key) != sha256:
                problems.append("object bytes do not match sha256")
    return problems


@click.command("dcor-depot-verify")
@click.argument("dataset_ids", nargs=-1)
@click.option("--checksum", is_flag=True,
              help="Read local copies and objects and compare sha256.")
def depot_verify(dataset_ids, checksum):
    """Fixity audit: local copy, object and public tag of every resource."""
    client = _client() if dcor_config.s3_enabled() else None
    datasets = [_dataset_or_fail(i)["id"] for i in dataset_ids] or \
        iter_dataset_ids(None)
    count = len(dataset_ids) or datasets_query(None).count()
    problems = checked = 0
    with click.progressbar(datasets, length=count, label="datasets") as bar:
        for dataset_id in bar:
            dataset = pipeline.show_dataset(dataset_id)
            for resource in dataset.get("resources", []):
                checked += 1
                try:
                    found = resource_problems(client, resource, dataset,
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
