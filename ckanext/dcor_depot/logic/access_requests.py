"""Actions of access requests: a user asks for the files on their download
list that they may no longer read (one request per circle), a circle's
admins list and decide them. Granting goes through CKAN's own
organization_member_create (role member)."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import authz, model

from ..access_requests import notify, rules
from ..access_requests import store as request_store
from ..download_list import access
from ..download_list import rules as list_rules
from ..download_list import store as list_store
from .download_list import id_list


def _text(data_dict: dict[str, Any], key: str) -> str:
    try:
        return rules.text(data_dict.get(key), key)
    except ValueError as exc:
        raise tk.ValidationError({key: [str(exc)]}) from None


def _refuse(line: str):
    raise tk.ValidationError({"resource_ids": [line]})


def _circle_of(user: model.User, rid: str, dataset: model.Package
               ) -> model.Group:
    """The circle whose admins can grant access to an unreadable item."""
    circle = model.Group.get(dataset.owner_org) if dataset.owner_org \
        else None
    if circle is None or circle.state != "active" or \
            not circle.is_organization:
        _refuse(f"resource {rid} belongs to no circle whose admins could "
                "grant access")
    if authz.users_role_for_group_or_org(circle.id, user.name):
        _refuse(f"resource {rid}: you are a member of its circle already, "
                "and a request would not make it readable")
    return circle


def download_list_request_access(context, data_dict) -> dict[str, Any]:
    """Ask the circles' admins for access to items of the caller's list
    that the caller may no longer read: one request per circle, naming
    those items only. While a request to a circle is open, a second one
    adds nothing.

    Who may call it: any logged-in user, for items on their own list.

    :param resource_ids: items on the caller's list that the caller may
        not read
    :param message: optional, at most 500 characters, for the admins
    :param user: optional; if given, the caller's own name or id
    :returns: ``{"requests": [{"id", "state", "resource_ids", "message",
        "created"}]}`` (``created`` false: the request was open already)
    :raises ValidationError: an id is not on the caller's list, is
        readable already, or belongs to no circle or to one the caller is
        a member of; the message is too long (one line each; nothing is
        recorded)
    :raises NotAuthorized: the caller is anonymous
    """
    tk.check_access("download_list_request_access", context, data_dict)
    user = access.caller(context)
    ids = list_rules.new_ids(set(), id_list(data_dict, "resource_ids"))
    message = _text(data_dict, "message")
    on_list = {rid: dataset for rid, _, dataset in list_store.entries(user.id)}
    readable = access.readable_datasets(context)
    asked: dict[str, tuple[model.Group, list[str]]] = {}
    for rid in ids:
        if rid not in on_list:
            _refuse(f"not on your download list: {rid}")
        if readable(on_list[rid]):
            _refuse(f"you may read resource {rid} already: there is no "
                    "access to request")
        circle = _circle_of(user, rid, on_list[rid])
        asked.setdefault(circle.id, (circle, []))[1].append(rid)
    opened = []
    for circle, rids in asked.values():
        request_id, created = request_store.create(
            user.id, circle.id, message, rids)
        opened.append((request_id, created, circle, rids))
    model.repo.commit()
    for request_id, created, circle, rids in opened:
        if created:  # after the commit: no mail for a request that failed
            notify.tell_admins(circle, user, _file_lines(rids), message)
    return {"requests": [
        {**_own_view(request_store.get(request_id)), "created": created}
        for request_id, created, _, _ in opened]}


def _file_lines(resource_ids: list[str]) -> list[rules.FileLine]:
    lines = []
    for rid in resource_ids:
        resource = model.Resource.get(rid)
        lines.append(rules.FileLine(resource.package.title or
                                    resource.package.name,
                                    resource.name or rid))
    return lines


def _own_view(request: dict[str, Any]) -> dict[str, Any]:
    """A request as its requester sees it: no circle, no admin."""
    return {"id": request["id"], "state": request["state"],
            "resource_ids": request["resource_ids"],
            "message": request["message"]}


def _circle(circle_id: Any) -> model.Group:
    circle = model.Group.get(circle_id) if isinstance(circle_id, str) and \
        circle_id.strip() else None
    if circle is None or not circle.is_organization or \
            circle.state != "active":
        raise tk.ObjectNotFound(f"no such circle: {circle_id}")
    return circle


def _names(user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    return dict(model.Session.query(model.User.id, model.User.name).filter(
        model.User.id.in_(list(user_ids))).all())


def _admin_views(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requests as a circle's admins see them: who, which of their list's
    files, the message and the decision."""
    names = _names({r["user_id"] for r in requests} |
                   {r["decided_by"] for r in requests if r["decided_by"]})
    return [{"id": r["id"], "user": names.get(r["user_id"]),
             "state": r["state"], "message": r["message"],
             "resource_ids": r["resource_ids"],
             "created": r["created_at"].isoformat(),
             "decided": r["decided_at"].isoformat()
             if r["decided_at"] else None,
             "decided_by": names.get(r["decided_by"]),
             "reason": r["reason"]} for r in requests]


@tk.side_effect_free
def circle_access_request_list(context, data_dict) -> list[dict[str, Any]]:
    """The access requests to a circle, open ones first (its admins and
    sysadmins only).

    Who may call it: the circle's admins and sysadmins.

    :param id: the circle's id or name
    :param state: optional: ``open``, ``granted`` or ``declined``
    :returns: ``[{"id", "user", "state", "message", "resource_ids",
        "created", "decided", "decided_by", "reason"}]``
    :raises ObjectNotFound: no such active circle
    :raises NotAuthorized: the caller is not an admin of the circle
    :raises ValidationError: ``state`` is not one of the three
    """
    circle = _circle(data_dict.get("id"))
    tk.check_access("circle_access_request_list", context,
                    {"id": circle.id})
    state = data_dict.get("state")
    if state not in (None, "") and state not in rules.STATES:
        raise tk.ValidationError({"state": [
            f"state must be one of {', '.join(rules.STATES)}"]})
    return _admin_views(request_store.for_circle(circle.id, state or None))


def circle_access_request_decide(context, data_dict) -> dict[str, Any]:
    """Grant (the requester becomes a member of the circle) or decline an
    open access request (the circle's admins and sysadmins only).

    Who may call it: the admins of the request's circle and sysadmins.

    :param id: the request's id
    :param decision: ``grant`` or ``decline``
    :param reason: optional, at most 500 characters, for the requester
    :returns: the request as ``circle_access_request_list`` shows it,
        decided
    :raises ObjectNotFound: no such request
    :raises NotAuthorized: the caller is not an admin of its circle
    :raises ValidationError: a decision other than ``grant``/``decline``,
        a reason that is too long, a request that is closed already, or
        a requester whose account is gone (one line; nothing changes)
    """
    request_id = data_dict.get("id")
    request = request_store.get(request_id) \
        if isinstance(request_id, str) else None
    if request is None:
        raise tk.ObjectNotFound(f"no such access request: {request_id}")
    tk.check_access("circle_access_request_decide", context,
                    {"id": request_id})
    try:
        state = rules.decision(data_dict.get("decision"))
    except ValueError as exc:
        raise tk.ValidationError({"decision": [str(exc)]}) from None
    reason = _text(data_dict, "reason")
    decider = access.caller(context)
    if not request_store.close(request_id, state, decider.id, reason):
        model.Session.rollback()
        raise tk.ValidationError({"id": [
            f"access request {request_id} is closed already: only an open "
            "request can be decided"]})
    try:
        if state == rules.GRANTED:
            _grant(context, decider, request)  # commits the decision too
        model.repo.commit()
    except Exception:
        model.Session.rollback()  # the request stays open
        raise
    return _admin_views([request_store.get(request_id)])[0]


def _grant(context, decider: model.User, request: dict[str, Any]) -> None:
    """Make the requester a member of the circle through CKAN's own
    action, in the same transaction as the decision (it commits both); a
    requester who has a role there already keeps it."""
    requester = model.User.get(request["user_id"])
    if requester is None or requester.state != "active":
        raise tk.ValidationError({"id": [
            "the requester's account is gone: decline the request"]})
    if authz.users_role_for_group_or_org(request["organization_id"],
                                         requester.name):
        return
    tk.get_action("organization_member_create")(
        {"user": decider.name, "ignore_auth": context.get("ignore_auth",
                                                          False)},
        {"id": request["organization_id"], "username": requester.name,
         "role": rules.GRANTED_ROLE})


def actions() -> dict:
    return {"download_list_request_access": download_list_request_access,
            "circle_access_request_list": circle_access_request_list,
            "circle_access_request_decide": circle_access_request_decide}
