"""GET /metrics: the Prometheus text format for the bearer token of
`ckanext.dcor_depot.metrics_token` or a sysadmin; 403 for anyone else."""
from __future__ import annotations

import flask
from ckan.common import current_user

from .. import config as dcor_config
from . import collect, rules


def metrics():
    given = rules.bearer_token(flask.request.headers.get("Authorization"))
    allowed = rules.token_matches(given, dcor_config.metrics_token()) or (
        given is None and getattr(current_user, "sysadmin", False))
    if not allowed:
        response = flask.Response(
            "the metrics need the metrics token or a sysadmin\n", status=403,
            mimetype="text/plain")
    else:
        body, content_type = collect.exposition(
            flask.request.headers.get("Accept"))
        response = flask.Response(body, headers={
            "Content-Type": content_type})
    # circles' names and sizes: never in a shared cache (and CKAN's own
    # caching headers stay off this response)
    flask.request.environ["__no_cache__"] = True
    response.headers["Cache-Control"] = "private, no-store"
    return response


def blueprints() -> list[flask.Blueprint]:
    blueprint = flask.Blueprint("dcor_depot_metrics", __name__)
    blueprint.add_url_rule("/metrics", view_func=metrics, methods=["GET"])
    return [blueprint]
