"""Objects and depot files that no live or restorable resource needs.

Names only propose which resources to ask about; whether a file or an
object is needed is decided from the database, one candidate at a time and
right before it would be removed, by comparing full paths and keys derived
from the resource rows. Listings are streamed page by page and directory by
directory, so memory does not grow with the site.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import time
from typing import Any, Callable, Iterator

import sqlalchemy as sa

import ckan.model as model

from .. import audit
from .. import config as dcor_config
from .. import db
from .. import naming
from . import records
from ..accounting import store as accounting
from ..audit import rules as audit_rules
from ..storage import depot, s3
from .circles import circle_buckets

ORPHAN_OBJECT = "orphan object"
ORPHAN_FILE = "orphan file"
STALE_TEMP = "stale temporary file"
FOREIGN_KEY = "not a depot key, left alone"
FOREIGN_FILE = "not a depot file, left alone"
UNDECIDED = "cannot tell whose it is, left alone"
REMOVABLE = (ORPHAN_OBJECT, ORPHAN_FILE, STALE_TEMP)


@dataclasses.dataclass(frozen=True)
class Finding:
    what: str  # one of the constants above
    location: str  # s3://bucket/key or a path
    removed: bool = False
    reason: str = ""

    @property
    def is_orphan(self) -> bool:
        return self.what in REMOVABLE


@dataclasses.dataclass(frozen=True)
class ResourceRecord:
    """What the database says about one resource and its dataset."""
    rid: str
    name: str | None
    url: str | None
    s3_url: str | None
    state: str
    modified: datetime.datetime | None
    pid: str
    dataset_name: str
    dataset_state: str
    dataset_modified: datetime.datetime | None
    owner_org: str | None
    creator_user_id: str | None
    circle_name: str | None


def still_restorable(state: str, modified: datetime.datetime | None,
                     grace_days: int, now: datetime.datetime) -> bool:
    """A row that is not deleted, or was deleted less than `grace_days`
    ago (a sysadmin may restore it). Purged rows do not exist at all."""
    if state != "deleted":
        return True
    # `modified` is the deletion time this extension recorded (naive UTC);
    # for deletions from before it kept them, the row's metadata_modified,
    # the last edit before the deletion, stands in
    if modified is None:
        return True
    return now - modified < datetime.timedelta(days=grace_days)


def is_live(record: ResourceRecord, grace_days: int,
            now: datetime.datetime) -> bool:
    return still_restorable(record.state, record.modified, grace_days,
                            now) and \
        still_restorable(record.dataset_state, record.dataset_modified,
                         grace_days, now)


def buckets_holding(record: ResourceRecord) -> set[str]:
    """Buckets where the objects of a resource belong: its circle's, and
    the one its s3_url names. A dataset moved to another circle keeps its
    objects in the old bucket until the move job has copied them;
    condensed and preview objects move with the resource, so the s3_url's
    bucket holds all three artifacts."""
    buckets = set()
    if record.owner_org:
        try:
            buckets.add(s3.bucket_for_circle(record.owner_org))
        except ValueError:  # a circle id that makes no bucket name
            pass
    named = naming.parse_object_url(record.s3_url or "")
    if named and named[1].split("/", 1)[0] == "resource" and \
            naming.parse_object_key(named[1])[1] == record.rid:
        buckets.add(named[0])
    return buckets


def _records(*conditions: Any) -> list[ResourceRecord]:
    """Resource rows with their dataset and circle; one query."""
    resource, package = model.Resource, model.Package
    rows = model.Session.query(
        resource.id, resource.name, resource.url, resource.extras,
        resource.state, resource.metadata_modified, package.id.label("pid"),
        package.name.label("dataset_name"),
        package.state.label("dataset_state"),
        package.metadata_modified.label("dataset_modified"),
        package.owner_org, package.creator_user_id,
        model.Group.name.label("circle_name"),
    ).join(package, package.id == resource.package_id).outerjoin(
        model.Group, model.Group.id == package.owner_org).filter(*conditions)
    rows = list(rows)
    resources_deleted = db.deletion_times(
        "resource", [row.id for row in rows if row.state == "deleted"])
    datasets_deleted = db.deletion_times(
        "dataset", [row.pid for row in rows if row.dataset_state == "deleted"])
    return [ResourceRecord(
        rid=row.id, name=row.name, url=row.url,
        s3_url=(row.extras or {}).get("s3_url"), state=row.state,
        modified=resources_deleted.get(row.id, row.metadata_modified),
        pid=row.pid, dataset_name=row.dataset_name,
        dataset_state=row.dataset_state,
        dataset_modified=datasets_deleted.get(row.pid, row.dataset_modified),
        owner_org=row.owner_org, creator_user_id=row.creator_user_id,
        circle_name=row.circle_name)
        for row in rows]


class Undecided(Exception):
    """A live resource may own the file, but its path cannot be derived."""


def _user_depot_path(record: ResourceRecord) -> str:
    resource = {"id": record.rid, "name": record.name, "url": record.url}
    dataset = {"id": record.pid, "name": record.dataset_name,
               "creator_user_id": record.creator_user_id,
               "organization": {"name": record.circle_name}}
    return records.user_depot_path(resource, dataset)


def _figshare_depot_path(record: ResourceRecord) -> str:
    return naming.figshare_depot_path(
        dcor_config.depots_path(), record.dataset_name,
        records.resource_file_name({"name": record.name, "url": record.url}))


class OrphanSearch:
    """One run of the search; `findings()` yields what it finds (and
    removes, with `remove`) as it goes."""

    def __init__(self, min_age_hours: int, remove: bool):
        self.cutoff = time.time() - min_age_hours * 3600
        self.remove = remove
        self.grace_days = dcor_config.deleted_grace_days()

    def findings(self) -> Iterator[Finding]:
        if dcor_config.s3_enabled():
            yield from self.objects(s3.get_client())
        depots = dcor_config.depots_path()
        yield from self.files(
            os.path.join(depots, dcor_config.users_depot_name()),
            self._users_candidates, _user_depot_path)
        yield from self.files(os.path.join(depots, "figshare"),
                              self._figshare_candidates, _figshare_depot_path)

    # objects

    def objects(self, client: Any) -> Iterator[Finding]:
        for bucket in circle_buckets():
            for item in s3.iter_objects(client, bucket):
                key = item["Key"]
                where = f"s3://{bucket}/{key}"
                parsed = naming.parse_object_key(key)
                if parsed is None:
                    yield Finding(FOREIGN_KEY, where)
                    continue
                if item["LastModified"].timestamp() > self.cutoff:
                    continue  # maybe a direct upload, resource not created
                if self.object_needed(bucket, parsed[1]):
                    continue
                if self.remove:
                    s3.delete_object(client, bucket, key)
                    accounting.forget_object(bucket, key)
                    audit.record(audit_rules.ORPHAN_REMOVED,
                                 resource_id=parsed[1], size=item.get("Size"),
                                 detail={"what": ORPHAN_OBJECT,
                                         "where": where})
                yield Finding(ORPHAN_OBJECT, where, self.remove)

    def object_needed(self, bucket: str, rid: str) -> bool:
        now = datetime.datetime.utcnow()
        return any(is_live(record, self.grace_days, now)
                   and bucket in buckets_holding(record)
                   for record in _records(model.Resource.id == rid)) or \
            self.deleted_row_in_grace([rid], now)

    def deleted_row_in_grace(self, rids: list[str],
                             now: datetime.datetime) -> bool:
        """CKAN removes the rows of deleted resources at the dataset's next
        update; the deletion this extension recorded still protects their
        files until the grace period has passed."""
        return any(now - deleted < datetime.timedelta(days=self.grace_days)
                   for deleted in db.deletion_times("resource", rids).values())

    # depot files

    def files(self, root: str,
              candidates: Callable[[str, str], list[ResourceRecord]],
              expected_path: Callable[[ResourceRecord], str]
              ) -> Iterator[Finding]:
        for entry in depot.iter_depot_entries(root):
            name = os.path.basename(entry.path)
            temp = naming.is_temp_copy_name(name)
            if not entry.is_regular_file or (name.startswith(".")
                                             and not temp):
                yield Finding(FOREIGN_FILE, entry.path)
                continue
            if entry.mtime > self.cutoff:
                continue
            if temp:
                # a killed run's copy; its source was kept until the copy
                # had its name, so it is never the only one
                yield self._removed(STALE_TEMP, entry.path)
                continue
            try:
                needed = self.file_needed(
                    entry.path, candidates(root, entry.path), expected_path)
            except Undecided as exc:
                yield Finding(UNDECIDED, entry.path, reason=str(exc))
                continue
            if not needed:
                yield self._removed(ORPHAN_FILE, entry.path)

    def _removed(self, what: str, path: str) -> Finding:
        removed = self.remove and depot.remove_file(path)
        if removed:
            audit.record(audit_rules.ORPHAN_REMOVED,
                         detail={"what": what, "where": path})
        return Finding(what, path, removed)

    def file_needed(self, path: str, candidates: list[ResourceRecord],
                    expected_path: Callable[[ResourceRecord], str]) -> bool:
        now = datetime.datetime.utcnow()
        if self.deleted_row_in_grace(
                naming.uuids_in_name(os.path.basename(path)), now):
            return True
        for record in candidates:
            if not is_live(record, self.grace_days, now):
                continue
            try:
                link = records.ckan_path(record.rid)
            except ValueError:  # not a canonical id: CKAN's path is unknown
                link = None
            if link and depot.same_file(link, path):
                return True
            try:
                expected = expected_path(record)
            except Exception as exc:
                raise Undecided(f"resource {record.rid}: {exc}") from None
            if depot.same_file(expected, path):
                return True
        return False

    @staticmethod
    def _users_candidates(root: str, path: str) -> list[ResourceRecord]:
        rids = naming.uuids_in_name(os.path.basename(path))
        return _records(model.Resource.id.in_(rids)) if rids else []

    @staticmethod
    def _figshare_candidates(root: str, path: str) -> list[ResourceRecord]:
        """Resources of the dataset the folder is named for, and those
        whose ids appear in the file name."""
        folder = os.path.relpath(path, root).split(os.sep)[0]
        rids = naming.uuids_in_name(os.path.basename(path))
        return _records(sa.or_(model.Package.name == folder,
                               model.Resource.id.in_(rids)))
