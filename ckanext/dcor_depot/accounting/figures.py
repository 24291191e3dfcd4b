"""A circle's storage figures and the site's, from the database: the
records of the objects (store), the issued uploads (reservations) and
CKAN's datasets."""
from __future__ import annotations

import datetime

from ckan import model

from .. import config as dcor_config
from ..storage import s3
from . import quota, reservations, rules, store


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def circle_figures(organization_id: str) -> dict:
    bucket = s3.bucket_for_circle(organization_id)
    as_of = _iso(datetime.datetime.utcnow())
    used = store.used_by_artifact(bucket).get(bucket, {})
    datasets, resources = store.dataset_counts(organization_id).get(
        organization_id, (0, 0))
    reserved = reservations.reserved_by_circle().get(organization_id, (0, 0))
    return rules.figures(
        used, quota.quota_bytes(organization_id), reserved, datasets,
        resources,
        store.largest_datasets(bucket), as_of,
        _iso(store.reconciled_at(bucket).get(bucket)))


def circles() -> list[model.Group]:
    """Every circle, deleted ones too (their buckets still hold bytes)."""
    return model.Session.query(model.Group).filter(
        model.Group.is_organization.is_(True)).order_by(model.Group.name).all()


def site_figures() -> dict:
    as_of = _iso(datetime.datetime.utcnow())
    used = store.used_by_artifact()
    counts = store.dataset_counts()
    reserved = reservations.reserved_by_circle()
    reconciled = store.reconciled_at()
    own_quotas = quota.quotas()
    default_quota = dcor_config.circle_quota_bytes()
    entries = []
    for circle in circles():
        bucket = s3.bucket_for_circle(circle.id)
        entry = rules.figures(
            used.get(bucket, {}), own_quotas.get(circle.id, default_quota),
            reserved.get(circle.id, (0, 0)),
            *counts.get(circle.id, (0, 0)), store.largest_datasets(bucket),
            as_of, _iso(reconciled.get(bucket)))
        entries.append({"id": circle.id, "name": circle.name,
                        "state": circle.state, **entry})
    return {"circles": entries, "totals": rules.site_totals(entries),
            "as_of": as_of}
