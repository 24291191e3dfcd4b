"""CKAN's resource download routes, answered by the download providers,
and a dataset's checksum manifest.

The URLs stay CKAN's own (`/dataset/{id}/resource/{rid}/download[/{name}]`);
this blueprint is registered before CKAN's, so it answers them. Resources
no provider serves (links) get CKAN's own answer. Who may see a resource
(`resource_show`) may download it; anyone else gets CKAN's 403/404.
"""
from __future__ import annotations

from typing import Any

import flask

import ckan.plugins.toolkit as tk
from ckan.views import resource as ckan_resource_views

from .. import config as dcor_config
from ..metrics import counters as metrics
from ..storage import s3
from . import (archive_stream, archives, ckan_compat, manifests, providers,
               selection)

download_blueprint = flask.Blueprint("dcor_depot_download", __name__)


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name, "auth_user_obj": tk.current_user}


def _plain(status: int, message: str):
    """A one-line answer for bad requests."""
    return flask.Response(message + "\n", status=status,
                          mimetype="text/plain")


def readable_dataset(id: str) -> dict[str, Any]:
    """The dataset, if the user may read it; else CKAN's 404/403."""
    try:
        return tk.get_action("package_show")(_context(), {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Dataset not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Unauthorized to read dataset %s") % id)


def download(id: str, resource_id: str, filename: str | None = None):
    dataset = readable_dataset(id)
    resource = next((r for r in dataset.get("resources", [])
                     if r["id"] == resource_id), None)
    if resource is None:
        try:  # another dataset's resource, or none at all: the same 404
            tk.get_action("resource_show")(_context(), {"id": resource_id})
        except (tk.ObjectNotFound, tk.NotAuthorized):
            pass
        return tk.abort(404, tk._("Resource not found in dataset %s") % id)
    range_header = flask.request.headers.get("Range")
    if range_header:
        try:
            archive_stream.parse_range(range_header, resource.get("size")
                                       or 2**63 - 1)
        except archive_stream.UnsatisfiableRange:
            pass  # the provider (or S3) answers 416 with the real size
        except archive_stream.RangeError as exc:
            return _plain(400, f"malformed Range header: {exc}")
    provider = providers.provider_for(resource, dataset)
    if provider is None:
        return ckan_resource_views.download("dataset", id, resource_id,
                                            filename)
    response = provider.response(resource, dataset, filename)
    # a download is one that hands out bytes (or where to get them): not a
    # HEAD, a 304 or a refusal; the metric and CKAN's signal count the same
    if flask.request.method != "HEAD" and response.status_code < 400 \
            and response.status_code != 304:
        metrics.count("downloads", provider=provider.name)
        ckan_compat.resource_downloaded(resource["id"])
    return response


def _manifest(id: str) -> dict[str, Any]:
    return manifests.dataset_manifest(readable_dataset(id))


def manifest_sha256(id: str):
    return flask.Response(manifests.as_sha256sum(_manifest(id)),
                          mimetype="text/plain")


def manifest_csv(id: str):
    result = _manifest(id)
    response = flask.Response(manifests.as_csv(result), mimetype="text/csv")
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{result["dataset"]}-manifest.csv"'
    return response


# Archives of a dataset or a selection

def _counted(chunks):
    """The chunks, counting the bytes sent once the stream ends or the
    client goes (a count per chunk would cost a Redis call each)."""
    sent = 0
    try:
        for chunk in chunks:
            yield chunk
            sent += len(chunk)
    finally:
        getattr(chunks, "close", lambda: None)()
        if sent:
            metrics.count("archive_bytes", sent)


def _archive_response(selection_of, comptype: str, name: str | None,
                      layout: str = "plain"):
    """Checks, headers and the (ranged) stream of an archive."""
    if layout not in archives.LAYOUTS:  # before any look-up
        return _plain(400, f"layout must be one of "
                           f"{', '.join(archives.LAYOUTS)}, not {layout!r}")
    try:
        archive = archives.build(selection_of(), comptype, name, layout)
    except archives.ArchiveRefused as exc:
        return _plain(exc.status, str(exc))
    layout = archive.layout
    start, end = 0, layout.length - 1
    status = 200
    range_header = flask.request.headers.get("Range")
    if_range = flask.request.headers.get("If-Range")
    if range_header and (if_range is None or
                         if_range.strip('"') == layout.etag):
        try:
            wanted = archive_stream.parse_range(range_header, layout.length)
        except archive_stream.UnsatisfiableRange as exc:
            response = _plain(416, f"unsatisfiable Range: {exc}")
            response.headers["Content-Range"] = f"bytes */{layout.length}"
            return response
        except archive_stream.RangeError as exc:
            return _plain(400, f"malformed Range header: {exc}")
        if wanted is not None and layout.ranges_supported:
            (start, end), status = wanted, 206
    response = flask.Response(
        status=status, mimetype="application/zip"
        if layout.comptype == "zip" else "application/x-tar")
    if flask.request.method != "HEAD":
        # No stream_with_context: the stream needs nothing from the request
        # (the selection, sources and clients are resolved above), and a
        # context held by an unread stream would be popped whenever it is
        # garbage-collected, in the middle of another request.
        response.response = _counted(
            archives.byte_stream(archive, start, end))
    response.direct_passthrough = True
    response.headers["Content-Length"] = str(end - start + 1)
    if status == 206:
        response.headers["Content-Range"] = \
            f"bytes {start}-{end}/{layout.length}"
    response.headers["Accept-Ranges"] = \
        "bytes" if layout.ranges_supported else "none"
    response.set_etag(layout.etag)
    response.last_modified = archive.last_modified
    response.headers["Content-Disposition"] = \
        s3.content_disposition(archive.name)
    return response


def _read_selection(values, datasets: bool = True):
    """The request's selection (selection.read), or its one-line refusal
    (411, 413, 400), decided before anything is looked up and before a
    body larger than the limits need is parsed. `values` gives the
    request's MultiDict once the size is known to be fine."""
    max_files = dcor_config.archive_max_files()
    max_datasets = dcor_config.archive_max_datasets()
    bound = selection.request_bound(max_files, max_datasets)
    request = flask.request
    if request.content_length is None and \
            request.headers.get("Transfer-Encoding"):
        return _plain(411, "a request body needs a Content-Length")
    size = len(request.query_string) + (request.content_length or 0)
    if size > bound:
        return _plain(413, f"the request holds {size} bytes, this site's "
                           f"limit for an archive request is {bound}")
    multi = values()
    try:
        return selection.read(
            multi.getlist("dataset") if datasets else [],
            multi.getlist("resource"),
            multi.getlist("url") if datasets else [],
            tk.config.get("ckan.site_url") or "", max_files, max_datasets)
    except selection.SelectionRefused as exc:
        return _plain(exc.status, str(exc))


def dataset_archive(id: str):
    chosen = _read_selection(lambda: flask.request.args, datasets=False)
    if not isinstance(chosen, selection.Selection):
        return chosen
    dataset = readable_dataset(id)
    args = flask.request.args
    return _archive_response(
        lambda: archives.selected(_context(), [] if chosen.resources
                                  else [dataset["id"]],
                                  list(chosen.resources),
                                  within=dataset["id"]),
        args.get("comptype", "zip"), args.get("name"),
        args.get("layout", "plain"))


def selection_archive():
    chosen = _read_selection(lambda: flask.request.values)
    if not isinstance(chosen, selection.Selection):
        return chosen
    values = flask.request.values
    return _archive_response(
        lambda: archives.selected(_context(), list(chosen.datasets),
                                  list(chosen.resources), urls=chosen.urls),
        values.get("comptype", "zip"), values.get("name"),
        values.get("layout", "plain"))


download_blueprint.add_url_rule("/dataset/<id>/archive",
                                view_func=dataset_archive,
                                methods=["GET", "HEAD"])
download_blueprint.add_url_rule("/download/archive",
                                view_func=selection_archive,
                                methods=["GET", "HEAD", "POST"])


for rule in ("/dataset/<id>/resource/<resource_id>/download",
             "/dataset/<id>/resource/<resource_id>/download/<filename>"):
    download_blueprint.add_url_rule(rule, view_func=download,
                                    methods=["GET", "HEAD"])
download_blueprint.add_url_rule("/dataset/<id>/manifest.sha256",
                                view_func=manifest_sha256)
download_blueprint.add_url_rule("/dataset/<id>/manifest.csv",
                                view_func=manifest_csv)


def blueprints() -> list[flask.Blueprint]:
    """The blueprints this plugin registers (blanket factory)."""
    return [download_blueprint]
