"""The answer when a circle's quota cannot be decided now (its lock in Redis
cannot be taken): 503 with the one line, for the API as JSON in CKAN's
error format and for pages as text. Nothing was stored."""
from __future__ import annotations

from flask import Flask, Response, jsonify, request

from .quota import QuotaUnavailable


def _answer(exc: QuotaUnavailable) -> Response:
    line = str(exc)
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


def register(app: Flask) -> None:
    """Answer QuotaUnavailable with 503 (Flask picks the handler of the
    most specific class, so this one wins over CKAN's 500 page)."""
    app.register_error_handler(QuotaUnavailable, _answer)
