"""Migration of block storage to the object store."""
from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import threading

import botocore.exceptions
import click

import ckan.plugins.toolkit as tk

from .. import config as dcor_config
from .. import naming, pipeline
from ..storage import s3
from .common import datasets_query, iter_dataset_ids


@dataclasses.dataclass
class Tally:
    migrated: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    deleted: int = 0


def _migrate_resource(client, resource, dataset, artifacts, options):
    """Runs in a thread: S3 and file I/O only, no CKAN calls."""
    bucket = s3.bucket_for_circle(dataset["owner_org"])
    done = bool(resource.get("s3_available") and resource.get("sha256")
                and resource.get("s3_url"))
    results = {}
    for artifact, path in artifacts.items():
        key = naming.object_key(artifact, resource["id"])
        known = resource.get("sha256") if artifact == "resource" else None
        results[artifact] = pipeline.migrate_artifact(
            client, path, bucket, key, known,
            verify_existence=options["verify_existence"],
            verify_checksum=options["verify_checksum"],
            already_migrated=done, dry_run=options["dry_run"])
        # objects of earlier runs keep the tags the visibility job set
        if not options["dry_run"] and (
                results[artifact][0] == "migrated" or not done):
            s3.set_public(client, bucket, key,
                          pipeline.dataset_is_public(dataset))
    return bucket, results


def _finish(resource, dataset, artifacts, bucket, results, options, tally,
            field_updates, deletions):
    """Main thread: collect resource fields, delete, report."""
    rid = resource["id"]
    statuses = {status for status, *_ in results.values()}
    sent = sum(size for _, size, _, _ in results.values())
    tally.bytes += sent
    if "migrated" in statuses or "would migrate" in statuses:
        tally.migrated += 1
        click.echo(f"\n{rid}: {', '.join(sorted(statuses))} "
                   f"({sent} bytes)")
    else:
        tally.skipped += 1
    if options["dry_run"]:
        return
    status, size, verified, sha256 = results["resource"]
    key = naming.object_key("resource", rid)
    fields = {"s3_available": True, "sha256": sha256,
              "size": os.path.getsize(artifacts["resource"]),
              "s3_url": naming.object_url(
                  dcor_config.s3_endpoint_url(), bucket, key)}
    if any(resource.get(k) != v for k, v in fields.items()):
        field_updates.setdefault(dataset["id"], {})[rid] = fields
    if options["delete_after_migration"]:
        for artifact, (_, _, verified, _) in results.items():
            if verified:  # only objects verified in this run
                deletions.setdefault(dataset["id"], []).append(
                    artifacts[artifact])


def _delete_local(path: str) -> int:
    removed = 0
    if os.path.islink(path):
        target = os.path.realpath(path)
        os.unlink(path)
        removed += 1
        if os.path.isfile(target):
            os.unlink(target)
            removed += 1
    elif os.path.isfile(path):
        os.unlink(path)
        removed += 1
    return removed


@click.command("dcor-migrate-resources-to-object-store")
@click.option("--modified-days", type=click.IntRange(min=0), default=None,
              help="Only datasets modified in the last N days.")
@click.option("--verify-existence", is_flag=True,
              help="Re-check that the objects of migrated resources exist.")
@click.option("--verify-checksum", is_flag=True,
              help="Download objects and compare them with the local "
                   "sha256; re-upload on mismatch.")
@click.option("--delete-after-migration", is_flag=True,
              help="Delete local files whose object was verified in this "
                   "run.")
@click.option("--dry-run", is_flag=True, help="Report, change nothing.")
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=1,
              show_default=True, help="Resources migrated concurrently.")
def migrate_resources(modified_days, verify_existence, verify_checksum,
                      delete_after_migration, dry_run, jobs):
    """Upload every local resource file to its circle's bucket."""
    options = dict(verify_existence=verify_existence,
                   verify_checksum=verify_checksum,
                   delete_after_migration=delete_after_migration,
                   dry_run=dry_run)
    try:
        client = s3.get_client()
        client.list_buckets()
    except s3.S3NotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    except (botocore.exceptions.BotoCoreError,
            botocore.exceptions.ClientError) as exc:
        raise click.ClickException(
            f"object store unreachable: {exc}") from None

    tally = Tally()
    ensured: set[str] = set()
    # one package_revise per dataset instead of one update per resource
    field_updates: dict[str, dict[str, dict]] = {}
    # local files are deleted only once the resource fields are saved
    deletions: dict[str, list[str]] = {}
    unfinished: dict[str, int] = {}

    def save_fields(dataset_id: str) -> None:
        updates = field_updates.pop(dataset_id, {})
        doomed = deletions.pop(dataset_id, [])
        unfinished.pop(dataset_id, None)
        if updates:
            revise = {"match": {"id": dataset_id}}
            for rid, fields in updates.items():
                revise[f"update__resources__{rid}"] = fields
            try:
                tk.get_action("package_revise")(pipeline.system_context(),
                                                revise)
            except Exception as exc:  # report and go on
                tally.failed += len(updates)
                click.echo(f"\n{dataset_id}: fields not saved: {exc}",
                           err=True)
                return
        for path in doomed:
            tally.deleted += _delete_local(path)
    slots = threading.BoundedSemaphore(2 * jobs)
    pending: dict[concurrent.futures.Future, tuple] = {}

    def collect(block: bool) -> None:
        if not pending:
            return
        done, _ = concurrent.futures.wait(
            list(pending), timeout=None if block else 0,
            return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            resource, dataset, artifacts = pending.pop(future)
            slots.release()
            try:
                bucket, results = future.result()
                _finish(resource, dataset, artifacts, bucket, results,
                        options, tally, field_updates, deletions)
            except Exception as exc:  # report and go on
                tally.failed += 1
                click.echo(f"\n{resource['id']}: failed: {exc}", err=True)
            unfinished[dataset["id"]] -= 1
            if not unfinished[dataset["id"]]:
                save_fields(dataset["id"])

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool, \
            click.progressbar(iter_dataset_ids(modified_days),
                              label="datasets",
                              length=datasets_query(modified_days).count()
                              ) as bar:
        for dataset_id in bar:
            dataset = pipeline.show_dataset(dataset_id)
            if not dataset.get("owner_org"):
                continue
            for resource in dataset.get("resources", []):
                artifacts = pipeline.local_artifacts(resource["id"])
                if resource.get("url_type") != "upload" or \
                        "resource" not in artifacts:
                    continue
                bucket = s3.bucket_for_circle(dataset["owner_org"])
                if bucket not in ensured and not dry_run:
                    s3.ensure_bucket(client, bucket)
                    ensured.add(bucket)
                while not slots.acquire(timeout=0.1):
                    collect(block=True)
                future = pool.submit(_migrate_resource, client, resource,
                                     dataset, artifacts, options)
                pending[future] = (resource, dataset, artifacts)
                unfinished[dataset["id"]] = unfinished.get(dataset["id"], 0) + 1
                collect(block=False)
        while pending:
            collect(block=True)
    verb = "would migrate" if dry_run else "migrated"
    click.echo(f"{verb} {tally.migrated}, skipped {tally.skipped}, failed "
               f"{tally.failed}, {tally.bytes} bytes sent"
               + (f", {tally.deleted} local files deleted"
                  if delete_after_migration else ""))
    if tally.failed:
        raise SystemExit(1)


COMMANDS = [migrate_resources]
