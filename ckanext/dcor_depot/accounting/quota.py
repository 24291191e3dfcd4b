"""Quotas: a circle's own (set by a sysadmin) or the site's default, and
the check that runs before any byte moves. The check and the reservation
that follows it happen under one lock per circle in Redis, shared by every
process and machine, so two requests at once are decided one after the
other and never both pass a quota that has room for one."""
from __future__ import annotations

import contextlib
import datetime
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ckan import model

from .. import audit
from .. import config as dcor_config
from ..audit import rules as audit_rules
from ..db import circle_quota_table as quota_table
from ..storage import locks, s3
from . import reservations, rules, store


class QuotaExceeded(ValueError):
    """The bytes asked for do not fit into the circle's quota (one line)."""


def quota_bytes(organization_id: str) -> int:
    """A circle's quota: its own if a sysadmin set one, else the site's
    default; 0: none."""
    own = model.Session.execute(sa.select(quota_table.c.quota_bytes).where(
        quota_table.c.organization_id == organization_id)).scalar()
    return dcor_config.circle_quota_bytes() if own is None else own


def quotas() -> dict[str, int]:
    """circle id -> its own quota, for the circles that have one."""
    return dict(model.Session.execute(sa.select(
        quota_table.c.organization_id, quota_table.c.quota_bytes)).all())


def set_quota(organization_id: str, quota: int, user_id: str | None) -> None:
    now = datetime.datetime.utcnow()
    model.Session.execute(insert(quota_table).values(
        organization_id=organization_id, quota_bytes=quota, updated_at=now,
        updated_by=user_id).on_conflict_do_update(
        index_elements=["organization_id"],
        set_={"quota_bytes": quota, "updated_at": now,
              "updated_by": user_id}))


def held_bytes(organization_id: str) -> int:
    """What counts against the quota: the objects of the circle's bucket
    and the uploads issued to it, not yet accepted."""
    bucket = s3.bucket_for_circle(organization_id)
    used = store.used_by_artifact(bucket).get(bucket, {})
    reserved = reservations.reserved_by_circle().get(organization_id, (0, 0))
    return sum(size for size, _ in used.values()) + reserved[0]


@contextlib.contextmanager
def room_for(circle: model.Group, size: int) -> Iterator[None]:
    """Raise QuotaExceeded unless `size` more bytes fit; otherwise hold the
    circle's lock while the caller reserves them (the body)."""
    if not quota_bytes(circle.id):
        # no quota: nothing to decide, and no lock, so that issuing upload
        # URLs does not depend on Redis (a restart must not answer 500)
        yield
        return
    with locks.circle_quota_lock(circle.id):
        quota = quota_bytes(circle.id)
        if quota:
            held = held_bytes(circle.id)
            if held + size > quota:
                refusal = rules.refusal(circle.name, held, quota, size)
                # on a connection of its own: the refused request's
                # transaction is rolled back
                audit.record(audit_rules.QUOTA_REFUSED, circle_id=circle.id,
                             size=size, outcome="refused", detail={
                                 "refusal": refusal, "held": held,
                                 "quota": quota})
                raise QuotaExceeded(refusal)
        yield
