"""Make every object's public tag match its dataset, site-wide.

The jobs keep tags right as datasets change; this walk repairs what no job
saw: a job that failed for good, a crash between a commit and the enqueue,
an object tagged behind the extension's back, or an object in a circle
bucket that no resource claims. It reads every object of every circle
bucket (page by page, so memory stays flat) and is safe to run from cron.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import sqlalchemy as sa

from ckan import model

from .. import audit
from .. import config as dcor_config
from .. import naming, resource_state
from ..audit import rules as audit_rules
from ..storage import s3
from . import visibility


@dataclasses.dataclass
class ReconcileTally:
    buckets: int = 0
    objects: int = 0
    wrong: int = 0
    fixed: int = 0


def _claims(resource_ids: set[str]) -> dict[str, dict[str, Any]]:
    """resource id -> its row joined with its dataset's, for one page."""
    if not resource_ids:
        return {}
    res, pkg = model.resource_table, model.package_table
    query = sa.select(
        res.c.id, res.c.package_id, res.c.state, res.c.extras,
        pkg.c.private, pkg.c.state.label("dataset_state"), pkg.c.owner_org,
    ).join(pkg, pkg.c.id == res.c.package_id).where(
        res.c.id.in_(sorted(resource_ids)))
    return {row["id"]: row for row in visibility._rows(query)}


def _wanted(claim: dict[str, Any] | None, bucket: str, key: str,
            artifact: str | None) -> bool:
    if claim is None or artifact is None:
        return False  # not a depot key, a staging upload or no resource
    dataset = {"private": claim["private"], "state": claim["dataset_state"]}
    current, _ = visibility.locations(claim, claim["owner_org"], artifact)
    return resource_state.object_should_be_public(dataset, claim,
                                                  (bucket, key), current)


def circle_buckets() -> list[str]:
    """Every bucket of this site's circles, those of purged circles too."""
    pattern = naming.bucket_pattern(dcor_config.s3_bucket_name_template())
    return [bucket for bucket in s3.bucket_names(s3.get_client())
            if pattern.match(bucket)]


def reconcile_bucket(bucket: str, dry_run: bool,
                     report: Callable[[str], None],
                     tally: ReconcileTally) -> None:
    """Check the public tag of every object of one circle bucket and fix
    the wrong ones (only report them with `dry_run`)."""
    client = s3.get_client()
    tally.buckets += 1
    for page in s3.object_pages(client, bucket):
        parsed = {item["Key"]: naming.parse_object_key(item["Key"])
                  for item in page}
        claims = _claims({p[1] for p in parsed.values() if p})
        for key, artifact_rid in parsed.items():
            tally.objects += 1
            claim = claims.get(artifact_rid[1]) if artifact_rid else None
            wanted = _wanted(claim, bucket, key,
                             artifact_rid[0] if artifact_rid else None)
            if s3.is_public(client, bucket, key) == wanted:
                continue
            tally.wrong += 1
            what = "public" if wanted else "private"
            if dry_run:
                report(f"s3://{bucket}/{key}: should be {what} "
                       "(dry run, not changed)")
                continue
            if claim is not None:
                # decided again from fresh rows, under the dataset's lock
                visibility.tag_object(claim["package_id"], claim["id"],
                                      bucket, key)
            else:
                s3.update_tags(client, bucket, key, public=False)
                audit.record(audit_rules.OBJECT_UNTAGGED,
                             resource_id=artifact_rid[1] if artifact_rid
                             else None, detail={
                                 "bucket": bucket, "key": key,
                                 "why": "no resource claims it"})
            tally.fixed += 1
            report(f"s3://{bucket}/{key}: made {what}")
