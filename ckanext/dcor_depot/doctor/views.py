"""The route through which `ckan dcor-depot-doctor` probes the front
server's X-Accel-Redirect location: it answers only for a token the doctor
has just put in Redis, with a probe file the doctor wrote, and never for
anything else."""
from __future__ import annotations

import re
import urllib.parse

import flask

from ckan.lib.redis import connect_to_redis

from .. import config as dcor_config
from .probes import ACCEL_TOKEN_KEY, PROBE_PREFIX

TOKEN = re.compile(r"^[0-9a-f]{32}$")

doctor_blueprint = flask.Blueprint("dcor_depot_doctor", __name__)


def accel_probe(token: str):
    accel = dcor_config.download_accel_redirect()
    if not accel or not TOKEN.match(token) or \
            not connect_to_redis().get(ACCEL_TOKEN_KEY.format(token)):
        flask.abort(404)
    response = flask.Response(status=200, mimetype="application/octet-stream")
    response.headers["X-Accel-Redirect"] = accel + urllib.parse.quote(
        PROBE_PREFIX + token)
    response.headers["Cache-Control"] = "private, no-store"
    flask.request.environ["__no_cache__"] = True
    return response


doctor_blueprint.add_url_rule("/dcor-depot/doctor/accel/<token>",
                              view_func=accel_probe, methods=["GET"])


def blueprints() -> list[flask.Blueprint]:
    return [doctor_blueprint]
