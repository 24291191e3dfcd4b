"""Access requests in PostgreSQL (tables in db.py, made by the Alembic
migration b5d83e1f4a27), read and changed in CKAN's session: a change is
committed with the action that makes it."""
from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ckan import model

from ..db import access_request_item_table as items_table
from ..db import access_request_table as requests_table
from . import rules


def open_for(user_id: str, organization_id: str) -> str | None:
    """The id of the user's open request to the circle, if any."""
    return model.Session.execute(sa.select(requests_table.c.id).where(
        requests_table.c.user_id == user_id,
        requests_table.c.organization_id == organization_id,
        requests_table.c.state == rules.OPEN)).scalar()


def create(user_id: str, organization_id: str, message: str,
           resource_ids: list[str]) -> tuple[str, bool]:
    """Open a request naming the files, unless one is open already (that
    one stays as it is). Returns (request id, whether it is new)."""
    request_id = str(uuid.uuid4())
    inserted = model.Session.execute(
        insert(requests_table).values(
            id=request_id, user_id=user_id, organization_id=organization_id,
            state=rules.OPEN, message=message,
            created_at=datetime.datetime.utcnow()).on_conflict_do_nothing(
            index_elements=["user_id", "organization_id"],
            index_where=requests_table.c.state == rules.OPEN
        ).returning(requests_table.c.id)).scalar()
    if inserted is None:
        return open_for(user_id, organization_id), False
    model.Session.execute(insert(items_table).values(
        [{"request_id": request_id, "resource_id": rid}
         for rid in resource_ids]))
    return request_id, True


def get(request_id: str) -> dict[str, Any] | None:
    row = model.Session.execute(sa.select(requests_table).where(
        requests_table.c.id == request_id)).mappings().first()
    if row is None:
        return None
    return {**row, "resource_ids": _resource_ids([request_id])[request_id]}


def _resource_ids(request_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {rid: [] for rid in request_ids}
    if request_ids:
        rows = model.Session.execute(sa.select(
            items_table.c.request_id, items_table.c.resource_id).where(
            items_table.c.request_id.in_(request_ids)).order_by(
            items_table.c.request_id, items_table.c.resource_id))
        for request_id, resource_id in rows:
            found[request_id].append(resource_id)
    return found


def for_circle(organization_id: str, state: str | None = None
               ) -> list[dict[str, Any]]:
    """The circle's requests, open ones first, then newest first."""
    query = sa.select(requests_table).where(
        requests_table.c.organization_id == organization_id)
    if state is not None:
        query = query.where(requests_table.c.state == state)
    rows = model.Session.execute(query.order_by(
        (requests_table.c.state != rules.OPEN),
        requests_table.c.created_at.desc())).mappings().all()
    files = _resource_ids([row["id"] for row in rows])
    return [{**row, "resource_ids": files[row["id"]]} for row in rows]


def states_of_items(user_id: str, resource_ids: list[str]
                    ) -> dict[str, tuple[str, str | None]]:
    """resource id -> (state, reason) of the user's newest request that
    names it."""
    if not resource_ids:
        return {}
    rows = model.Session.execute(sa.select(
        items_table.c.resource_id, requests_table.c.state,
        requests_table.c.reason).join(
        requests_table, requests_table.c.id == items_table.c.request_id
    ).where(requests_table.c.user_id == user_id,
            items_table.c.resource_id.in_(resource_ids)).order_by(
        requests_table.c.created_at.desc()))
    return rules.latest_states(rows)


def close(request_id: str, state: str, decided_by: str, reason: str
          ) -> bool:
    """Decide an open request; False if it is not open (any more). The
    row stays locked until the commit, so a second decision waits and
    then finds it closed."""
    done = model.Session.execute(requests_table.update().where(
        requests_table.c.id == request_id,
        requests_table.c.state == rules.OPEN).values(
        state=state, decided_by=decided_by, reason=reason or None,
        decided_at=datetime.datetime.utcnow()))
    return done.rowcount == 1
