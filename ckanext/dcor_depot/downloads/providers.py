"""Download providers: a resource's download is answered by the provider
of the storage that holds its bytes, as MyTardis's download providers do.

- `s3`: the resource has an object; answer a redirect to a presigned GET
  URL (made per request, never stored), so no byte passes through CKAN.
- `depot`: the resource has a local file (no object yet, or no object
  store); stream it, with `Range` support.

The first provider in the order that can serve a resource answers.
"""
from __future__ import annotations

import os
from typing import Any

import flask

from .. import config as dcor_config
from .. import naming
from ..storage import s3
from ..workflows import visibility

STORED_URL_TYPES = ("upload", "s3_upload")


def download_name(resource: dict[str, Any]) -> str:
    """The file name a download is saved as (never a path)."""
    try:
        return naming.safe_name(resource.get("name") or "", "resource name")
    except naming.UnsafeNameError:
        return resource["id"]


class S3Provider:
    name = "s3"

    def can_serve(self, resource: dict[str, Any],
                  dataset: dict[str, Any]) -> bool:
        return bool(resource.get("s3_available")) and dcor_config.s3_enabled()

    def response(self, resource: dict[str, Any], dataset: dict[str, Any],
                 filename: str | None):
        bucket, key = visibility.recorded_location(resource) or (
            s3.bucket_for_circle(dataset["owner_org"]),
            naming.object_key("resource", resource["id"]))
        url = s3.presigned_download_url(
            s3.get_client(), bucket, key, filename or download_name(resource),
            dcor_config.download_url_expiry())
        response = flask.redirect(url, code=302)
        # the URL is a credential: shared caches must not keep it
        response.headers["Cache-Control"] = "private, no-store"
        return response


class DepotProvider:
    name = "depot"

    def can_serve(self, resource: dict[str, Any],
                  dataset: dict[str, Any]) -> bool:
        return resource.get("url_type") in STORED_URL_TYPES and \
            os.path.isfile(self._path(resource))

    @staticmethod
    def _path(resource: dict[str, Any]) -> str:
        return naming.resource_path(dcor_config.storage_path(),
                                    resource["id"])

    def response(self, resource: dict[str, Any], dataset: dict[str, Any],
                 filename: str | None):
        # werkzeug answers Range (206/416), If-Range and HEAD for us
        response = flask.send_file(
            os.path.realpath(self._path(resource)), as_attachment=True,
            download_name=filename or download_name(resource),
            mimetype=resource.get("mimetype") or "application/octet-stream",
            conditional=True, etag=resource.get("sha256") or True,
            max_age=0)
        return response


PROVIDERS = {"s3": S3Provider(), "depot": DepotProvider()}


def provider_for(resource: dict[str, Any], dataset: dict[str, Any]):
    """The first provider (in the configured order) that can serve the
    resource, or None."""
    for name in ("s3", "depot"):
        provider = PROVIDERS[name]
        if provider.can_serve(resource, dataset):
            return provider
    return None
