"""Rolling fixity of one resource: read its depot file and its object,
each once, compare each with the resource's sha256, repair a bad copy from
its twin read and verified in this same run, and mark the resource when no
copy is good.

A repair never touches the good copy and never puts unverified bytes in
place:
- depot file from the object: the object is streamed into a temporary file
  beside the depot file (that read is also the object's check), the file
  is read back from disk and verified, and only then renamed over the
  damaged file;
- object from the depot file: the file is uploaded to a temporary key
  (`naming.fixity_key`, never readable anonymously), verified by S3's ETag
  of the parts sent, then copied inside S3 over the damaged object; the
  copy's ETag must equal the temporary object's; then the old tags come
  back and the public tag is decided under the dataset's lock.
A kill at any point leaves the good copy as it was and at most a temporary
file or key, which the next run of the resource removes before it reads.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import signal
from typing import Any, Callable

import ckan.plugins.toolkit as tk

from .. import audit
from .. import config as dcor_config
from .. import db, naming, resource_state, transfer_plan
from ..audit import rules as audit_rules
from ..fixity import rules, store
from ..storage import depot, s3
from . import records, visibility

log = logging.getLogger(__name__)

# Tests name a point of a repair here to have the process SIGKILLed there
KILL_AT_ENV = "DCOR_DEPOT_FIXITY_KILL_AT"

Progress = Callable[[int], None]


def _crash_point(name: str) -> None:
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclasses.dataclass
class Outcome:
    """What a check of one resource found and did."""
    resource_id: str
    found: dict[str, str] = dataclasses.field(default_factory=dict)
    results: dict[str, str] = dataclasses.field(default_factory=dict)
    details: list[str] = dataclasses.field(default_factory=list)
    bytes_read: int = 0
    marked: bool = False  # newly marked `integrity: failed`
    failed: bool = False  # no good copy after this run
    cleared: bool = False  # a mark taken off
    skipped: str | None = None


def _depot_target(resource: dict[str, Any]) -> str | None:
    """The depot file of a resource (the file CKAN's symlink leads to, or
    the plain file at CKAN's path not moved yet); None where the site keeps
    no local copy (removed after migration to the object store)."""
    path = records.ckan_path(resource["id"])
    if os.path.islink(path):
        return os.path.realpath(path)
    if os.path.isfile(path):
        return path
    if resource_state.deleted_locally(resource,
                                      records.local_facts(resource["id"])):
        return None
    return path


def check_depot_copy(target: str | None, sha256: str, outcome: Outcome,
                 progress: Progress) -> None:
    if target is None:
        outcome.found[rules.DEPOT] = rules.ABSENT
        return
    if not os.path.isfile(target):
        outcome.found[rules.DEPOT] = rules.MISSING
        outcome.details.append(f"depot: no file at {target}")
        return
    info = depot.file_info(target, progress=progress)
    outcome.bytes_read += info.size
    if info.sha256 == sha256:
        outcome.found[rules.DEPOT] = rules.OK
    else:
        outcome.found[rules.DEPOT] = rules.MISMATCH
        outcome.details.append(f"depot: {target} has sha256 {info.sha256}, "
                               f"the resource records {sha256}")


def _clean_leftovers(client: Any, bucket: str, rid: str,
                     target: str | None) -> None:
    """Remove what a killed repair of this resource left: never the only
    copy, because a repair leaves its source untouched."""
    if target is not None:
        depot.remove_stale_temps(target)
    key = naming.fixity_key(rid)
    s3.abort_multipart_uploads(client, bucket, key)
    if s3.object_head(client, bucket, key) is not None:
        s3.delete_object(client, bucket, key)


def check_object_copy(client: Any, location: tuple[str, str], sha256: str,
                  target: str | None, repair_depot: bool, outcome: Outcome,
                  progress: Progress) -> str | None:
    """Read the object once. With `repair_depot`, the bytes also go into a
    temporary file beside the depot file; its path is returned if the
    object matched."""
    bucket, key = location
    where = f"s3://{bucket}/{key}"
    head = s3.object_head(client, bucket, key)
    if head is None:
        outcome.found[rules.OBJECT] = rules.MISSING
        outcome.details.append(f"object: no object {where}")
        return None
    if repair_depot:
        try:
            # the sha256 against the resource's is the check (the ETag
            # would refuse good bytes of a part layout the site did not make)
            temp, got = s3.download_to_temp(client, bucket, key, target,
                                            progress, check_etag=False)
        except s3.UploadVerificationError as exc:
            outcome.found[rules.OBJECT] = rules.MISMATCH
            outcome.details.append(f"object: {exc}")
            return None
        outcome.bytes_read += got.size
        if got.sha256 == sha256:
            outcome.found[rules.OBJECT] = rules.OK
            return temp
        depot.remove_file(temp)
    else:
        got = s3.object_digests(client, bucket, key, progress=progress)
        outcome.bytes_read += got.size
        if got.sha256 == sha256:
            outcome.found[rules.OBJECT] = rules.OK
            return None
    outcome.found[rules.OBJECT] = rules.MISMATCH
    outcome.details.append(f"object: {where} has sha256 {got.sha256}, the "
                           f"resource records {sha256}")
    return None


def _repair_depot(temp: str, target: str, sha256: str,
                  outcome: Outcome) -> None:
    _crash_point("depot-temp-written")
    try:
        depot.replace_verified(temp, sha256, target)
    except depot.DepotError as exc:
        outcome.details.append(f"depot: not repaired: {exc}")
        return
    _crash_point("depot-replaced")
    outcome.results[rules.DEPOT] = rules.REPAIRED
    outcome.details.append(f"depot: {target} repaired from the object")


def _part_layout(size: int) -> list[int]:
    """The part sizes upload_file uses for a file of `size` bytes, so that
    a copy inside S3 in the same layout keeps the ETag."""
    part = transfer_plan.part_size_for(size, dcor_config.s3_part_size())
    count = transfer_plan.part_count(size, part)
    return [part] * (count - 1) + [size - part * (count - 1)] if count > 1 \
        else [max(size, 0)]


def _repair_object(client: Any, resource: dict[str, Any], dataset_id: str,
                   location: tuple[str, str], target: str, sha256: str,
                   outcome: Outcome) -> None:
    bucket, key = location
    temp_key = naming.fixity_key(resource["id"])
    old_tags = {} if s3.object_head(client, bucket, key) is None else \
        s3.object_tags(client, bucket, key)
    stored = s3.upload_file(client, target, bucket, temp_key,
                            part_size=dcor_config.s3_part_size(),
                            max_concurrency=dcor_config.s3_max_concurrency(),
                            replace=True)
    if stored.sha256 != sha256:  # the depot file changed since its check
        s3.delete_object(client, bucket, temp_key)
        outcome.details.append(f"object: not repaired: {target} now has "
                               f"sha256 {stored.sha256}")
        return
    _crash_point("object-temp-uploaded")
    etag = s3.copy_object(client, bucket, temp_key, bucket, key,
                          _part_layout(stored.size))
    head = s3.object_head(client, bucket, key)
    if etag != stored.etag or head is None or \
            head["ContentLength"] != stored.size:
        outcome.details.append(f"object: not repaired: the copy of "
                               f"{temp_key} to {key} does not verify (ETag "
                               f"{etag}, expected {stored.etag})")
        return
    _crash_point("object-copied")
    # the copy starts without tags (private); its other tags come back, the
    # public tag is decided from the dataset under its lock
    kept = {k: v for k, v in old_tags.items()
            if k != s3.PUBLIC_TAG["Key"]}
    s3.put_tags(client, bucket, key, {**kept, s3.SHA256_TAG: sha256})
    visibility.tag_object(dataset_id, resource["id"], bucket, key,
                          sha256=sha256)
    _crash_point("object-tagged")
    s3.delete_object(client, bucket, temp_key)
    records.save_site_fields(resource, {"etag": etag})
    outcome.results[rules.OBJECT] = rules.REPAIRED
    outcome.details.append(f"object: s3://{bucket}/{key} repaired from the "
                           "depot file")


def lock_name(resource_id: str) -> str:
    return f"dcor_depot fixity {resource_id}"


def check_resource(resource_id: str, progress: Progress | None = None,
                   now: datetime.datetime | None = None) -> Outcome:
    """Read both copies of a resource, repair what can be repaired from a
    verified twin, record the results and set or clear the integrity
    mark. A resource that another run (another cron line, an operator's
    --resource) checks at this moment is skipped: the two would remove
    each other's temporary copies."""
    with db.advisory_lock(lock_name(resource_id)) as taken:
        if not taken:
            outcome = Outcome(resource_id)
            outcome.skipped = "checked by another run at this moment"
            return outcome
        return _check_resource(resource_id, progress, now)


def _check_resource(resource_id: str, progress: Progress | None,
                    now: datetime.datetime | None) -> Outcome:
    progress = progress or (lambda n: None)
    now = now or datetime.datetime.utcnow()
    outcome = Outcome(resource_id)
    try:
        resource = records.show_resource(resource_id)
    except tk.ObjectNotFound:
        outcome.skipped = "no such resource"
        return outcome
    sha256 = resource.get("sha256")
    pending = records.steps_needed(resource)
    if not sha256 or pending:
        outcome.skipped = "still being stored (" + (", ".join(
            step.value for step in pending) or "no sha256 yet") + ")"
        return outcome
    dataset = visibility.dataset_row(resource["package_id"])
    target = _depot_target(resource)
    client = location = temp = None
    if dcor_config.s3_enabled():
        client = s3.get_client()
        location, _ = visibility.locations(resource, dataset["owner_org"],
                                           "resource")
        _clean_leftovers(client, location[0], resource_id, target)
    elif target is not None:
        depot.remove_stale_temps(target)

    check_depot_copy(target, sha256, outcome, progress)
    depot_bad = outcome.found[rules.DEPOT] in (rules.MISMATCH, rules.MISSING)
    if client is not None:
        temp = check_object_copy(client, location, sha256, target, depot_bad,
                             outcome, progress)
    outcome.results = dict(outcome.found)
    if client is not None and outcome.found[rules.OBJECT] == rules.OK:
        # puts back tags a killed repair may have left off
        visibility.tag_object(dataset["id"], resource_id, *location,
                              sha256=sha256)
    source = rules.repair_source(outcome.found)
    if source == (rules.DEPOT, rules.OBJECT):
        _repair_depot(temp, target, sha256, outcome)
    elif source == (rules.OBJECT, rules.DEPOT):
        _repair_object(client, resource, dataset["id"], location, target,
                       sha256, outcome)

    for copy, result in outcome.results.items():
        store.record(resource_id, copy, result, now,
                     _detail_of(outcome, copy))
    if rules.integrity_after(outcome.results):
        outcome.cleared = store.clear_failed(resource_id)
    else:
        outcome.failed = True
        outcome.marked = store.mark_failed(
            resource_id, "; ".join(outcome.details) or "no good copy", now)
    _audit(outcome, resource, dataset)
    for line in outcome.details:
        log.warning("fixity of resource %s: %s", resource_id, line)
    return outcome


def _audit(outcome: Outcome, resource: dict[str, Any],
           dataset: dict[str, Any]) -> None:
    """The run's events: each bad copy, each repair, a mark set or
    cleared."""
    where = {"circle_id": dataset["owner_org"], "package_id": dataset["id"],
             "resource_id": outcome.resource_id,
             "size": resource.get("size")}
    for copy, found in outcome.found.items():
        if found in (rules.MISMATCH, rules.MISSING):
            audit.record(rules.AUDIT_MISMATCH, outcome="failed", **where,
                         detail={"copy": copy, "found": found,
                                 "error": _detail_of(outcome, copy)})
        if outcome.results.get(copy) == rules.REPAIRED:
            audit.record(rules.AUDIT_REPAIR, **where, detail={
                "copy": copy, "from": rules.repair_source(outcome.found)[1]})
    if outcome.failed:
        audit.record(audit_rules.INTEGRITY_ERROR, outcome="failed", **where,
                     detail={"where": "fixity", "marked": outcome.marked,
                             "error": "; ".join(outcome.details)})
    if outcome.cleared:
        audit.record(rules.AUDIT_CLEARED, **where,
                     detail={"copies": outcome.results})


def _detail_of(outcome: Outcome, copy: str) -> str | None:
    lines = [line.split(": ", 1)[1] for line in outcome.details
             if line.startswith(f"{copy}: ")]
    return "; ".join(lines) or None
