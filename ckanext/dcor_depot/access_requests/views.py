"""The forms of access requests: the download list's "Request access"
and the circle page's grant and decline. They post with CKAN's CSRF
token and work without JavaScript (post, then redirect with a flash
message), as the download list's forms do."""
from __future__ import annotations

from typing import Any

import flask

import ckan.plugins.toolkit as tk

from ..download_list import rules as list_rules
from ..download_list.views import check_csrf, context, logged_in, one_line

access_requests_blueprint = flask.Blueprint("dcor_depot_access_requests",
                                            __name__)


def _call(action: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Run the action; a refusal becomes a flash message (None)."""
    try:
        return tk.get_action(action)(context(), data)
    except tk.ValidationError as exc:
        tk.h.flash_error(one_line(exc))
    return None


def request_access():
    check_csrf()
    if not logged_in():
        return tk.abort(403, tk._("Log in to use a download list"))
    form = flask.request.form
    result = _call("download_list_request_access", {
        "resource_ids": form.getlist("resource_id"),
        "message": form.get("message", "")})
    if result is not None:  # no count of circles: that would tell more
        if any(request["created"] for request in result["requests"]):
            tk.h.flash_success("access requested: the answer will show on "
                               "this page")
        else:
            tk.h.flash_success("your request is open already")
    return tk.redirect_to("dcor_depot_download_list.page")


def decide(request_id: str):
    check_csrf()
    if not logged_in():
        return tk.abort(403, tk._("Log in to decide access requests"))
    form = flask.request.form
    try:
        result = _call("circle_access_request_decide", {
            "id": request_id, "decision": form.get("decision", ""),
            "reason": form.get("reason", "")})
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only the circle's admins decide its "
                                  "access requests"))
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("No such access request"))
    if result is not None:
        tk.h.flash_success(f"access request of {result['user']} "
                           f"{result['state']}")
    came_from = form.get("came_from") or ""
    if list_rules.is_local_path(came_from):
        return tk.redirect_to(came_from)
    return tk.redirect_to("dashboard.datasets")


access_requests_blueprint.add_url_rule(
    "/dashboard/download-list/request-access", view_func=request_access,
    methods=["POST"])
access_requests_blueprint.add_url_rule(
    "/dashboard/access-requests/<request_id>/decide", view_func=decide,
    methods=["POST"])


def blueprints() -> list[flask.Blueprint]:
    return [access_requests_blueprint]
