"""Migration of block storage to the object store."""
from __future__ import annotations

import click

from ..accounting import quota
from ..storage import s3
from ..workflows.migrate import Options
from ..workflows.migrate_site import SiteMigration
from .common import datasets_query, iter_dataset_ids


@click.command("dcor-migrate-resources-to-object-store")
@click.option("--modified-days", type=click.IntRange(min=0), default=None,
              help="Only datasets modified in the last N days.")
@click.option("--verify-existence", is_flag=True,
              help="Re-check that the objects of migrated resources exist.")
@click.option("--verify-checksum", is_flag=True,
              help="Download objects and compare them with the local file; "
                   "replace a damaged object only from a local file that "
                   "matches the resource's recorded sha256.")
@click.option("--delete-after-migration", is_flag=True,
              help="Delete local files whose object's bytes were verified "
                   "in this run and that match the resource's sha256.")
@click.option("--dry-run", is_flag=True, help="Report, change nothing.")
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=1,
              show_default=True, help="Resources migrated concurrently.")
def migrate_resources(modified_days, verify_existence, verify_checksum,
                      delete_after_migration, dry_run, jobs):
    """Upload every local resource file to its circle's bucket."""
    options = Options(verify_existence=verify_existence,
                      verify_checksum=verify_checksum,
                      delete_after_migration=delete_after_migration,
                      dry_run=dry_run)
    try:
        client = s3.get_client()
        s3.check_reachable(client)
    except (s3.S3NotConfigured, s3.S3Unreachable) as exc:
        raise click.ClickException(str(exc)) from None

    migration = SiteMigration(client, options, jobs)
    with click.progressbar(iter_dataset_ids(modified_days), label="datasets",
                           length=datasets_query(modified_days).count()
                           ) as bar:
        for line, is_error in migration.run(bar):
            click.echo(f"\n{line}", err=is_error)
    tally = migration.tally
    verb = "would migrate" if dry_run else "migrated"
    click.echo(f"{verb} {tally.migrated}, skipped {tally.skipped}, failed "
               f"{tally.failed}, {tally.bytes} bytes sent"
               + (f", {tally.deleted} local files deleted"
                  if delete_after_migration else ""))
    # existing data is never refused, but the operator learns which
    # circles it took over their quota
    for line in quota.over_quota(tally.sent_by_circle):
        click.echo(f"over quota: {line}")
    if tally.failed:
        raise SystemExit(1)


COMMANDS = [migrate_resources]
