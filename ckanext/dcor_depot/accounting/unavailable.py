"""The answer when a circle's quota cannot be decided now (its lock in Redis
cannot be taken): 503 with the one line, for the API as JSON in CKAN's
error format and for pages as text. Nothing was stored.

CKAN's API view turns every exception it does not know into a 500 of its
own, so an action notes the line (`note`) before the exception leaves it,
and the response of that request is replaced after the view."""
from __future__ import annotations

from flask import Flask, Response, g, has_request_context, jsonify, request

from .quota import QuotaUnavailable

_NOTED = "dcor_depot_quota_unavailable"


def note(exc: QuotaUnavailable) -> None:
    """Remember the line for this request's answer (no-op outside one)."""
    if has_request_context():
        setattr(g, _NOTED, str(exc))


def _answer(line: str) -> Response:
    if request.path.startswith("/api/"):
        response = jsonify({"success": False, "help": request.url,
                            "error": {"__type": "Service Unavailable",
                                      "message": line}})
    else:
        response = Response(line + "\n", mimetype="text/plain")
    response.status_code = 503
    response.headers["Retry-After"] = "30"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _after_request(response: Response) -> Response:
    line = g.pop(_NOTED, None)
    if line and response.status_code == 500:
        return _answer(line)
    return response


def register(app: Flask) -> None:
    """503 for QuotaUnavailable: the pages' views let it through (Flask
    picks the handler of the most specific class, so this one wins over
    CKAN's 500 page); the API's 500 is replaced after the view."""
    app.register_error_handler(QuotaUnavailable,
                               lambda exc: _answer(str(exc)))
    app.after_request(_after_request)
