"""What CKAN's own resource download does that browsers and other
extensions rely on, done by every download provider too: the resource's
`mimetype` as the Content-Type, and CKAN's `resource_download` signal
(sender: the resource id) once per download."""
from __future__ import annotations

import logging
import re
from typing import Any

from werkzeug.utils import get_content_type

import ckan.plugins.toolkit as tk
from ckan.lib import signals

log = logging.getLogger(__name__)

FALLBACK_TYPE = "application/octet-stream"
# type/subtype as RFC 6838 allows them; a resource's mimetype is user input
# and ends up in a header (and in a presigned URL), so nothing else passes
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
                         r"/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")


def content_type(resource: dict[str, Any]) -> str:
    """The Content-Type a download is sent with, as the running CKAN sends
    it: the resource's mimetype (2.12's file storages add werkzeug's
    `; charset=utf-8` to text types, 2.11 sends it as it is), or
    application/octet-stream where it has none or one that is not a plain
    type/subtype."""
    mimetype = (resource.get("mimetype") or "").strip()
    if not _MEDIA_TYPE.fullmatch(mimetype):
        return FALLBACK_TYPE
    if tk.check_ckan_version(min_version="2.12"):
        return get_content_type(mimetype, "utf-8")
    return mimetype


def resource_downloaded(resource_id: str) -> None:
    """CKAN's resource_download signal, sent as CKAN sends it (the resource
    id is the sender). A failing receiver is logged, not passed on: a
    download counter must not break a download."""
    try:
        signals.resource_download.send(resource_id)
    except Exception:  # noqa: BLE001 (another extension's receiver)
        log.exception("a resource_download receiver failed for resource %s",
                      resource_id)
