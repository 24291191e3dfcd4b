"""`ckan dcor-depot-reconcile-visibility`: public tags match the datasets."""
from __future__ import annotations

import click

from ..storage import s3
from ..workflows import reconcile


@click.command("dcor-depot-reconcile-visibility")
@click.option("--dry-run", is_flag=True, help="Only report wrong tags.")
def reconcile_visibility_command(dry_run):
    """Make every object's public tag in every circle bucket match its
    dataset: public exactly while the dataset is public and active and the
    resource active. Safe to run from cron."""
    try:
        buckets = reconcile.circle_buckets()
    except s3.S3NotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    tally = reconcile.ReconcileTally()
    with click.progressbar(buckets, label="circle buckets") as bar:
        for bucket in bar:
            reconcile.reconcile_bucket(bucket, dry_run,
                                       lambda line: click.echo("\n" + line),
                                       tally)
    verb = "would fix" if dry_run else "fixed"
    click.echo(f"checked {tally.objects} objects in {tally.buckets} buckets: "
               f"{tally.wrong} with a wrong public tag, {verb} "
               f"{tally.wrong if dry_run else tally.fixed}")


COMMANDS = [reconcile_visibility_command]
