"""The download list's pages: /dashboard/download-list, and the POST
routes of its forms (add, remove, clear, rename). Every form carries
CKAN's CSRF token and works without JavaScript (post, then redirect with
a flash message). The list is downloaded by /download/archive, the one
archive code path."""
from __future__ import annotations

from typing import Any

import flask

import ckan.plugins.toolkit as tk

from ..downloads import views as download_views
from . import rules

download_list_blueprint = flask.Blueprint("dcor_depot_download_list",
                                          __name__)


def context() -> dict[str, Any]:
    return {"user": tk.current_user.name, "auth_user_obj": tk.current_user}


def logged_in() -> bool:
    return bool(getattr(tk.current_user, "is_authenticated", False))


def page():
    if not logged_in():
        return tk.redirect_to("user.login", came_from=flask.request.path)
    listing = tk.get_action("download_list_show")(context(), {})
    readable = [item for item in listing["items"] if item["readable"]]
    speed = rules.speed_choice(flask.request.args.get("speed"))
    query = (flask.request.args.get("query") or "").strip()
    preview, preview_error = None, None
    if query:
        try:
            preview = tk.get_action("download_list_preview")(
                context(), {"query": query})
        except tk.ValidationError as exc:
            preview_error = one_line(exc)
    return tk.render("dcor_depot/download_list.html", {
        "listing": listing, "readable_items": readable,
        "unreadable": listing["count"] - len(readable),
        # unreadable items with no open access request
        "requestable": [item for item in listing["items"]
                        if not item["readable"] and
                        item["access_request"] != "open"],
        "speed": speed, "speeds": rules.SPEEDS_MBIT,
        "estimate": rules.human_duration(rules.download_seconds(
            listing["total_bytes"], speed)),
        "total": rules.human_bytes(listing["total_bytes"]),
        "max_bytes": rules.human_bytes(listing["max_bytes"])
        if listing["max_bytes"] else None,
        "query": query, "preview": preview,
        "preview_error": preview_error,
        "user_dict": {"display_name": tk.current_user.display_name}})


def one_line(error: tk.ValidationError) -> str:
    messages = []
    for value in error.error_dict.values():
        messages.extend(value if isinstance(value, list) else [value])
    return "; ".join(str(message) for message in messages)


def _back() -> str:
    """Where the form came from, if it is a path of this site."""
    came_from = flask.request.form.get("came_from") or ""
    if rules.is_local_path(came_from):
        return came_from
    return tk.url_for("dcor_depot_download_list.page")


def check_csrf() -> None:
    """CKAN 2.11 leaves extensions' blueprints out of its CSRF check
    (ckan.csrf_protection.ignore_extensions defaults to true there); these
    forms change data, so they check the token themselves (on 2.12 a
    second check of a valid token is harmless). A missing or stale token
    gets 400."""
    app = flask.current_app
    if app.config.get("WTF_CSRF_ENABLED", True) and "csrf" in app.extensions:
        app.extensions["csrf"].protect()


def _run(action: str, data: dict[str, Any], done) -> flask.Response:
    check_csrf()
    if not logged_in():
        return tk.abort(403, tk._("Log in to use a download list"))
    try:
        result = tk.get_action(action)(context(), data)
    except tk.ValidationError as exc:
        tk.h.flash_error(one_line(exc))
    except (tk.ObjectNotFound, tk.NotAuthorized) as exc:
        tk.h.flash_error(str(exc) or "not allowed")
    else:
        tk.h.flash_success(done(result))
    return tk.redirect_to(_back())


def add():
    form = flask.request.form
    data: dict[str, Any] = {}
    if form.getlist("resource_id"):
        data["resource_ids"] = form.getlist("resource_id")
    for key in ("dataset_id", "query", "digest"):
        if form.get(key):
            data[key] = form[key]
    return _run("download_list_add", data, lambda result: (
        f"{result['added']} files added to your download list "
        f"({result['count']} files, "
        f"{rules.human_bytes(result['total_bytes'])})"))


def remove():
    return _run("download_list_remove",
                {"resource_ids": flask.request.form.getlist("resource_id")},
                lambda result: f"removed; {result['count']} files left")


def clear():
    return _run("download_list_clear", {},
                lambda result: "your download list is empty")


def rename():
    return _run("download_list_rename",
                {"name": flask.request.form.get("name", "")},
                lambda result: f"the list's archive is now named "
                               f"{result['name']}")


download_list_blueprint.add_url_rule("/dashboard/download-list",
                                     view_func=page)
for action in (add, remove, clear, rename):
    download_list_blueprint.add_url_rule(
        f"/dashboard/download-list/{action.__name__}", view_func=action,
        methods=["POST"])


# every answer here is the caller's own (his list, his flash messages)
download_list_blueprint.after_request(download_views.apply_caching)


def blueprints() -> list[flask.Blueprint]:
    return [download_list_blueprint]
