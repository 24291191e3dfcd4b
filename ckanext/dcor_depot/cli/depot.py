"""Depot commands: append-resource, run-jobs-dcor-depot,
dcor-prune-stale-multipart-uploads."""
from __future__ import annotations

import datetime

import click

from .. import config as dcor_config
from .. import jobs
from ..storage import depot, s3
from ..workflows import (append, direct_upload, multipart_upload, records,
                         stale_uploads)
from .common import datasets_query, iter_dataset_ids
from .progress import byte_progress


@click.command("append-resource")
@click.argument("path")
@click.argument("dataset_id")
@click.option("--delete-source", is_flag=True,
              help="Delete PATH once the depot copy and the S3 object are "
                   "verified.")
def append_resource(path, dataset_id, delete_source):
    """Add the file PATH as a new resource to dataset DATASET_ID."""
    try:
        plan = append.check_append_input(path, dataset_id, delete_source)
        with byte_progress(plan.size, "append") as advance:
            result = append.append_file(plan, progress=advance)
    except (append.BadInput, depot.DepotError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    state = "created" if result.created else "already present"
    click.echo(f"resource {result.resource_id} {state}; depot: "
               f"{result.depot_path}")
    if result.object_store:
        stored = result.object_store.stored
        how = "uploaded" if stored.uploaded else "already there"
        click.echo(f"s3://{stored.bucket}/{stored.key} sha256 "
                   f"{stored.sha256} ({how})")
    if result.source_deleted:
        click.echo(f"deleted {path}")


@click.command("run-jobs-dcor-depot")
@click.option("--modified-days", type=click.IntRange(min=0), default=None,
              help="Only datasets modified in the last N days.")
def run_jobs_dcor_depot(modified_days):
    """Complete the depot and S3 steps that did not finish, in the
    foreground, with the same code the jobs run: for jobs that failed at
    each of their starts (ckanext.dcor_depot.job_retry_intervals)."""
    done = failed = checked = 0
    with click.progressbar(iter_dataset_ids(modified_days), label="datasets",
                           length=datasets_query(modified_days).count()
                           ) as bar:
        for dataset_id in bar:
            for resource in records.show_dataset(dataset_id).get(
                    "resources", []):
                checked += 1
                try:
                    steps = records.steps_needed(resource)
                except ValueError as exc:  # e.g. a non-canonical id
                    failed += 1
                    click.echo(f"\n{resource['id']}: skipped: {exc}",
                               err=True)
                    continue
                for step in steps:
                    try:
                        how = jobs.run_step(step, resource["id"])
                    except Exception as exc:  # report and go on
                        failed += 1
                        click.echo(f"\n{resource['id']}: {step.value} "
                                   f"failed: {exc}", err=True)
                        break
                    done += 1
                    click.echo(f"\n{resource['id']}: {step.value} {how}")
                else:
                    # done: jobs left in the outbox (e.g. after their last
                    # start) have nothing more to do
                    jobs.forget_steps(resource["id"])
    click.echo(f"checked {checked} resources: {done} steps completed, "
               f"{failed} failed")
    if failed:
        raise SystemExit(1)


@click.command("dcor-prune-stale-multipart-uploads")
@click.option("--initiated-before-days", type=int, default=7,
              show_default=True,
              help="Abort uploads started more than N days ago; N must "
                   "exceed the upload URL expiry, the lifetime of an "
                   "unfinished multipart upload (with its last part URL) "
                   "and the job timeout.")
@click.option("--dry-run", is_flag=True, help="Only report.")
def prune_stale_multipart_uploads(initiated_before_days, dry_run):
    """Abort stale multipart uploads in every circle bucket of this site."""
    expiry, timeout = dcor_config.upload_url_expiry(), \
        dcor_config.job_timeout()
    lifetime = multipart_upload.in_flight_seconds()
    minimum = stale_uploads.smallest_safe_age_days(max(expiry, lifetime),
                                                   timeout)
    if initiated_before_days < minimum:
        raise click.ClickException(
            f"--initiated-before-days must be at least {minimum}: younger "
            f"uploads may still be in flight (upload URLs expire after "
            f"{expiry} s, an unfinished multipart upload lives {lifetime} s "
            f"with its last part URL, jobs may run {timeout} s)")
    try:
        client = s3.get_client()
    except s3.S3NotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    cutoff = datetime.datetime.now(datetime.timezone.utc) - \
        datetime.timedelta(days=initiated_before_days)
    found = aborted = 0
    for upload in stale_uploads.stale_uploads(client, cutoff):
        found += 1
        click.echo(f"s3://{upload.bucket}/{upload.key} upload "
                   f"{upload.upload_id} initiated "
                   f"{upload.initiated:%Y-%m-%d %H:%M}"
                   f"{' (dry run)' if dry_run else ': aborted'}")
        if not dry_run:
            stale_uploads.abort(client, upload)
            aborted += 1
    click.echo(f"{found} stale multipart uploads found, {aborted} aborted")
    if not dry_run:
        forgotten = direct_upload.forget_expired_issues()
        click.echo(f"{forgotten} expired records of issued upload ids "
                   "removed")


COMMANDS = [append_resource, run_jobs_dcor_depot,
            prune_stale_multipart_uploads]
