"""Download providers: a resource's download is answered by the provider
of the storage that holds its bytes, as MyTardis's download providers do.

- `s3`: the resource has an object; answer a redirect to a presigned GET
  URL, made per request and never stored, so no byte passes through CKAN.
- `depot`: the resource has a local file (no object yet, or no object
  store); stream it with Range support, or hand it to nginx with
  X-Accel-Redirect where `download_accel_redirect` is set.

The order comes from `ckanext.dcor_depot.download_providers`; other
extensions add providers through `interfaces.IDownloadProvider`.
"""
from __future__ import annotations

import os
import urllib.parse
from typing import Any, Iterator

import flask

import ckan.plugins as p
from ckan.exceptions import CkanConfigurationException

from .. import audit, ckan_storage
from .. import config as dcor_config
from .. import naming, resource_state
from ..audit import rules as audit_rules
from ..interfaces import DownloadProvider, IDownloadProvider
from ..storage import s3
from ..storage.digest import CHUNK_SIZE
from ..workflows import records, visibility
from . import byte_ranges, ckan_compat


def download_name(resource: dict[str, Any]) -> str:
    """The file name a download is saved as (never a path)."""
    try:
        return naming.safe_name(resource.get("name") or "", "resource name")
    except naming.UnsafeNameError:
        return resource["id"]


def record_private_grant(resource: dict[str, Any], dataset: dict[str, Any],
                         action: str, detail: dict[str, Any]) -> None:
    """Record that the request's user gets the bytes of a resource that is
    not public (committed before the answer leaves: a grant of private
    bytes is never unrecorded)."""
    if resource_state.dataset_is_public(dataset):
        return
    # before the answer leaves, without waiting for the disk: see
    # doc/architecture.rst (audit trail)
    audit.record(action, circle_id=dataset.get("owner_org"),
                 package_id=dataset.get("id"), resource_id=resource["id"],
                 size=resource.get("size"), detail=detail,
                 wait_for_disk=False)


class S3Provider:
    name = "s3"

    def can_serve(self, resource: dict[str, Any],
                  dataset: dict[str, Any]) -> bool:
        return bool(resource.get("s3_available")) and dcor_config.s3_enabled()

    @staticmethod
    def _location(resource: dict[str, Any],
                  dataset: dict[str, Any]) -> tuple[str, str]:
        current, _ = visibility.locations(resource, dataset["owner_org"],
                                          "resource")
        return current

    def response(self, resource: dict[str, Any], dataset: dict[str, Any],
                 filename: str | None):
        bucket, key = self._location(resource, dataset)
        record_private_grant(resource, dataset, audit_rules.GRANT_PRESIGNED,
                             {"bucket": bucket, "key": key, "expires_in":
                              dcor_config.download_url_expiry()})
        url = s3.presigned_download_url(
            s3.get_client(), bucket, key, filename or download_name(resource),
            dcor_config.download_url_expiry(),
            ckan_compat.content_type(resource))
        response = flask.redirect(url, code=302)
        # the URL is a credential: no cache may keep it (CKAN's own
        # Cache-Control would call the answer public)
        flask.request.environ["__no_cache__"] = True
        response.cache_control.no_store = True
        return response

    def size(self, resource: dict[str, Any], dataset: dict[str, Any]) -> int:
        head = s3.object_head(s3.get_client(),
                              *self._location(resource, dataset))
        if head is None:
            raise FileNotFoundError(f"resource {resource['id']} has no "
                                    "object")
        return head["ContentLength"]

    def open(self, resource: dict[str, Any], dataset: dict[str, Any],
             offset: int) -> Iterator[bytes]:
        return s3.object_stream(s3.get_client(),
                                *self._location(resource, dataset), offset)


class DepotProvider:
    name = "depot"

    def can_serve(self, resource: dict[str, Any],
                  dataset: dict[str, Any]) -> bool:
        return resource.get("url_type") in resource_state.STORED_URL_TYPES \
            and os.path.isfile(records.ckan_path(resource["id"]))

    def response(self, resource: dict[str, Any], dataset: dict[str, Any],
                 filename: str | None):
        name = filename or download_name(resource)
        path = records.ckan_path(resource["id"])
        accel = dcor_config.download_accel_redirect()
        record_private_grant(resource, dataset, audit_rules.GRANT_DEPOT,
                             {"range": flask.request.headers.get("Range")})
        if accel:
            # nginx sends the file (following the symlink) and answers Range
            relative = os.path.relpath(path, os.path.dirname(
                ckan_storage.resource_files_dir()))
            # nginx keeps this type (its internal location has gzip off,
            # which would drop Range support for a text type)
            response = flask.Response(
                status=200, content_type=ckan_compat.content_type(resource))
            response.headers["X-Accel-Redirect"] = accel + urllib.parse.quote(
                relative)
            response.headers["Content-Disposition"] = \
                s3.content_disposition(name)
            return response
        return self._stream(os.path.realpath(path), name,
                            resource.get("sha256") or None,
                            ckan_compat.content_type(resource))

    @staticmethod
    def _stream(path: str, name: str, sha256: str | None,
                content_type: str):
        """The file, or the part of it that Range asks for, by the one
        Range rule of every download route (byte_ranges), with HEAD,
        If-Range and If-None-Match."""
        request = flask.request
        length = os.path.getsize(path)
        etag = sha256 or f"{length}-{int(os.path.getmtime(path))}"
        if request.if_none_match.contains(etag):
            response = flask.Response(status=304)
            response.set_etag(etag)
            return response
        try:
            wanted = byte_ranges.wanted_bytes(
                request.headers.get("Range"), request.headers.get("If-Range"),
                etag, length)
        except byte_ranges.UnsatisfiableRange as exc:
            status, headers, body = byte_ranges.unsatisfiable(length,
                                                              str(exc))
            response = flask.Response(body, status=status,
                                      mimetype="text/plain")
            response.headers.update(headers)
            return response
        except byte_ranges.RangeError as exc:
            return flask.Response(f"malformed Range header: {exc}\n",
                                  status=400, mimetype="text/plain")
        # the resource's type, as CKAN sends it
        response = flask.Response(status=206 if wanted.partial else 200,
                                  content_type=content_type)
        if request.method != "HEAD":
            response.response = _file_bytes(path, wanted.start, wanted.end)
        response.direct_passthrough = True
        response.headers["Content-Length"] = str(wanted.end - wanted.start
                                                 + 1)
        if wanted.partial:
            response.headers["Content-Range"] = byte_ranges.content_range(
                wanted, length)
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["Content-Disposition"] = s3.content_disposition(name)
        response.set_etag(etag)
        response.last_modified = os.path.getmtime(path)
        return response

    def size(self, resource: dict[str, Any], dataset: dict[str, Any]) -> int:
        return os.path.getsize(records.ckan_path(resource["id"]))

    def open(self, resource: dict[str, Any], dataset: dict[str, Any],
             offset: int) -> Iterator[bytes]:
        with open(records.ckan_path(resource["id"]), "rb") as handle:
            handle.seek(offset)
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk


def _file_bytes(path: str, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end] of a file, a chunk at a time."""
    with open(path, "rb") as handle:
        handle.seek(start)
        left = end - start + 1
        while left > 0 and (chunk := handle.read(min(CHUNK_SIZE, left))):
            left -= len(chunk)
            yield chunk


BUILT_IN: tuple[DownloadProvider, ...] = (S3Provider(), DepotProvider())


def available() -> dict[str, DownloadProvider]:
    """Every provider, ours and those of other plugins, by name."""
    found = {provider.name: provider for provider in BUILT_IN}
    for plugin in p.PluginImplementations(IDownloadProvider):
        for provider in plugin.get_download_providers():
            found[provider.name] = provider
    return found


def check_configured() -> None:
    """Start-up check: every configured name has a provider."""
    known = available()
    for key, names, may_be_empty in (
            (dcor_config.DOWNLOAD_PROVIDERS,
             dcor_config.download_providers(), False),
            (dcor_config.ARCHIVE_PROVIDERS,
             dcor_config.archive_providers(), True)):
        unknown = [name for name in names if name not in known]
        if unknown or not (names or may_be_empty):
            raise CkanConfigurationException(
                f"{key}: no provider named "
                f"{', '.join(unknown) or '(empty list)'} (known: "
                f"{', '.join(sorted(known))})")


def archive_order() -> list[str]:
    """The providers asked for an archive member's bytes: those of
    archive_providers, then the other download providers."""
    first = dcor_config.archive_providers()
    return first + [name for name in dcor_config.download_providers()
                    if name not in first]


def provider_for(resource: dict[str, Any], dataset: dict[str, Any],
                 order: list[str] | None = None) -> DownloadProvider | None:
    """The first provider (in `order`, by default the configured download
    order) that can serve the resource, or None (a link: CKAN's own
    download answers it)."""
    known = available()
    for name in dcor_config.download_providers() if order is None else order:
        provider = known.get(name)
        if provider is not None and provider.can_serve(resource, dataset):
            return provider
    return None
