"""Quotas: a circle's own (set by a sysadmin) or the site's default, and
the check that runs before any byte moves. The check and the reservation
that follows it happen under one lock per circle in Redis, shared by every
process and machine, so two requests at once are decided one after the
other and never both pass a quota that has room for one.

Files that come with a CKAN request (the resource form, `resource_create`,
`package_revise` with a file) are admitted inside an admission scope that
the chained actions open: the circle's lock is kept until the action has
stored and committed its resources, whose size then counts as pending
until the jobs have put the file into the bucket."""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime
import os
from typing import Any, Iterable, Iterator

import sqlalchemy as sa
from redis.exceptions import RedisError
from sqlalchemy.dialects.postgresql import insert
from werkzeug.datastructures import FileStorage

from ckan import model

from .. import audit
from .. import config as dcor_config
from .. import jobs
from ..audit import rules as audit_rules
from ..db import circle_quota_table as quota_table
from ..storage import locks, s3
from . import reservations, rules, store


class QuotaExceeded(ValueError):
    """The bytes asked for do not fit into the circle's quota (one line)."""


class QuotaUnavailable(RuntimeError):
    """The circle's quota lock cannot be taken now (Redis is down, or the
    lock stays held): the bytes are neither admitted nor refused, and the
    request may be repeated (503)."""


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
    """What counts against the quota: the objects of the circle's bucket,
    the uploads issued to it and not yet accepted, and the files stored
    through CKAN that the jobs have not put into the bucket yet."""
    bucket = s3.bucket_for_circle(organization_id)
    reserved = reservations.reserved_by_circle().get(organization_id, (0, 0))
    pending = store.pending_upload_bytes(organization_id, bucket,
                                         (jobs.MOVE, jobs.UPLOAD),
                                         (jobs.UNFINISHED,))
    return store.bucket_bytes(bucket) + reserved[0] + pending


def _check(circle: model.Group, size: int, admitted: int = 0) -> None:
    """Raise QuotaExceeded unless `size` more bytes fit (`admitted`: bytes
    this request was granted before, not yet visible in the tables)."""
    quota = quota_bytes(circle.id)
    if quota:
        held = held_bytes(circle.id) + admitted
        if held + size > quota:
            refusal = rules.refusal(circle.name, held, quota, size)
            # on a connection of its own: the refused request's
            # transaction is rolled back
            audit.record(audit_rules.QUOTA_REFUSED, circle_id=circle.id,
                         size=size, outcome="refused", detail={
                             "refusal": refusal, "held": held,
                             "quota": quota})
            raise QuotaExceeded(refusal)


@contextlib.contextmanager
def _quota_lock(circle: model.Group) -> Iterator[None]:
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(locks.circle_quota_lock(circle.id))
    except (RedisError, locks.LockTimeout) as exc:
        raise QuotaUnavailable(rules.quota_unavailable(circle.name, exc)) \
            from None
    try:
        yield
    finally:
        try:
            stack.close()
        except RedisError:
            pass  # Redis went away meanwhile; the lock expires by its ttl


@contextlib.contextmanager
def room_for(circle: model.Group, size: int) -> Iterator[None]:
    """Raise QuotaExceeded unless `size` more bytes fit; otherwise hold the
    circle's lock while the caller reserves them (the body). Raise
    QuotaUnavailable if the lock cannot be taken."""
    if not quota_bytes(circle.id):
        # no quota: nothing to decide, and no lock, so that issuing upload
        # URLs does not depend on Redis (a restart must not answer 500)
        yield
        return
    with _quota_lock(circle):
        _check(circle, size)
        yield


def check_room(circle: model.Group, size: int) -> None:
    """The check alone, for operator commands that take longer than a lock
    may be held (append-resource, import-figshare): they are checked
    before their first byte moves, and store the object themselves right
    after (so they are counted from then on)."""
    with room_for(circle, size):
        pass


def over_quota(organization_ids: Iterable[str]) -> Iterator[str]:
    """A line for each of these circles that holds more than its quota."""
    for organization_id in sorted(organization_ids):
        quota = quota_bytes(organization_id)
        if not quota:
            continue
        held = held_bytes(organization_id)
        if held > quota:
            circle = model.Group.get(organization_id)
            yield rules.over_quota(circle.name if circle else organization_id,
                                   held, quota)


def is_file_upload(value: Any) -> bool:
    """A file that came with the request (what CKAN's uploaders store)."""
    return isinstance(value, FileStorage)


def upload_size(upload: FileStorage) -> int:
    """The size of an uploaded file, from its spooled stream (the request
    body is already read; nothing of it is stored yet)."""
    stream = upload.stream
    position = stream.tell()
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(position)
    return size


@dataclasses.dataclass
class _Admission:
    """The quota locks one action holds until it is done."""
    stack: contextlib.ExitStack = dataclasses.field(
        default_factory=contextlib.ExitStack)
    admitted: dict[str, int] = dataclasses.field(default_factory=dict)
    seen: set[int] = dataclasses.field(default_factory=set)


_admission: contextvars.ContextVar[_Admission | None] = \
    contextvars.ContextVar("dcor_depot_quota_admission", default=None)


@contextlib.contextmanager
def admission_scope() -> Iterator[None]:
    """Wraps an action that may store uploaded files. The outermost call
    opens the scope; the circle locks taken by `admit_uploads` inside it
    are released when it closes, after the action stored and committed
    the files (which then count as pending in `held_bytes`)."""
    if _admission.get() is not None:
        yield
        return
    admission = _Admission()
    token = _admission.set(admission)
    try:
        yield
    finally:
        _admission.reset(token)
        try:
            admission.stack.close()
        except RedisError:
            pass  # the locks expire by their ttl


def admit_uploads(circle: model.Group, uploads: Iterable[FileStorage]
                  ) -> None:
    """Admit files that came with a request into the circle, or raise
    QuotaExceeded (QuotaUnavailable) before any of their bytes is stored.
    A file seen before in the same scope (CKAN hands the same upload from
    resource_create to package_update) is not counted twice."""
    admission = _admission.get()
    fresh = [upload for upload in uploads
             if admission is None or id(upload) not in admission.seen]
    size = sum(upload_size(upload) for upload in fresh)
    if not fresh:
        return
    if admission is None:
        check_room(circle, size)
        return
    if circle.id in admission.admitted:
        # this scope holds the circle's lock already
        _check(circle, size, admission.admitted[circle.id])
    else:
        admission.stack.enter_context(room_for(circle, size))
        admission.admitted[circle.id] = 0
    admission.admitted[circle.id] += size
    admission.seen.update(id(upload) for upload in fresh)
