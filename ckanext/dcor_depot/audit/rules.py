"""Pure rules of the audit trail: the names of actions and actors, the
bounded detail, the retention and the keyset cursor."""
from __future__ import annotations

import datetime
import json
from typing import Any

# Actions (what a row says happened)
UPLOAD_ACCEPTED = "upload.accepted"      # detail: route (upload, s3-direct)
DEPOT_MOVE = "depot.move"                # detail: path
OBJECT_STORED = "object.stored"          # detail: bucket, key, how
BACKUP = "depot.backup"                  # detail: path, how
OBJECT_TAGGED = "object.tagged"          # detail: bucket, key, why
OBJECT_UNTAGGED = "object.untagged"      # detail: bucket, key, why
CIRCLE_MOVE = "circle.move"              # detail: from, to
ORPHAN_REMOVED = "orphan.removed"        # detail: what, where
MIGRATION_DELETE = "migration.delete"    # detail: path
GRANT_PRESIGNED = "grant.presigned_get"  # detail: expires_in
GRANT_DEPOT = "grant.depot_stream"       # detail: range
GRANT_ARCHIVE = "grant.archive"          # one row per private member
ARCHIVE_SENT = "archive.sent"            # bytes sent; detail: archive
QUOTA_REFUSED = "quota.refused"          # detail: the refusal's line
INTEGRITY_ERROR = "integrity.error"      # detail: what did not match

ACTIONS = frozenset({
    UPLOAD_ACCEPTED, DEPOT_MOVE, OBJECT_STORED, BACKUP, OBJECT_TAGGED,
    OBJECT_UNTAGGED, CIRCLE_MOVE, ORPHAN_REMOVED, MIGRATION_DELETE,
    GRANT_PRESIGNED, GRANT_DEPOT, GRANT_ARCHIVE, ARCHIVE_SENT, QUOTA_REFUSED,
    INTEGRITY_ERROR})

OUTCOMES = ("ok", "refused", "failed", "cut")

# A detail is small: what is longer is cut and says so
MAX_DETAIL_CHARS = 2000
MAX_TEXT_CHARS = 200


def job_actor(step: str) -> str:
    return f"job:{step}"


def cli_actor(command: str) -> str:
    return f"cli:{command}"


def bounded_detail(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """The detail as JSON-safe values, at most MAX_DETAIL_CHARS long when
    written; a longer one keeps its beginning under "cut"."""
    if detail is None:
        return None
    try:
        text, plain = json.dumps(detail, sort_keys=True), True
    except (TypeError, ValueError):  # values that only str() can write
        text, plain = json.dumps(detail, default=str, sort_keys=True), False
    if len(text) > MAX_DETAIL_CHARS:
        return {"cut": text[:MAX_DETAIL_CHARS]}
    return detail if plain else json.loads(text)


def bounded_text(value: Any) -> str:
    return str(value)[:MAX_TEXT_CHARS]


def prune_cutoff(now: datetime.datetime, retention_days: int
                 ) -> datetime.datetime:
    """Rows before this time have expired."""
    return now - datetime.timedelta(days=retention_days)


def parse_time(value: Any, name: str) -> datetime.datetime:
    """An ISO 8601 date or time (UTC when it names no zone), as naive UTC;
    ValueError naming the field otherwise."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(
                str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{name}: not an ISO 8601 date or time: "
                             f"{bounded_text(value)!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def parse_cursor(value: Any) -> int | None:
    """The keyset cursor of a page (the id of the last row of the page
    before); None for the first page."""
    if value in (None, ""):
        return None
    try:
        cursor = int(str(value))
    except ValueError:
        raise ValueError(f"before: not a cursor: {bounded_text(value)!r}"
                         ) from None
    if cursor < 1:
        raise ValueError(f"before: not a cursor: {cursor}")
    return cursor


def visibility_reason(dataset: dict[str, Any] | None,
                      resource: dict[str, Any] | None,
                      is_current: bool) -> str:
    """Why an object is (or is not) public, from the rows read under the
    dataset's lock (resource_state.object_should_be_public's terms)."""
    if dataset is None:
        return "dataset purged"
    if resource is None:
        return "resource purged"
    if dataset.get("state") != "active":
        return f"dataset {dataset.get('state')}"
    if dataset.get("private"):
        return "dataset private"
    if resource.get("state") != "active":
        return f"resource {resource.get('state')}"
    if not is_current:
        return "not the resource's current copy"
    return "dataset public"
