"""CKAN's resource download routes, answered by the download providers,
and a dataset's checksum manifest.

The URLs stay CKAN's own (`/dataset/{id}/resource/{rid}/download[/{name}]`);
this blueprint is registered before CKAN's, so it answers them. Resources
no provider serves (links) get CKAN's own answer. Who may see a resource
(`resource_show`) may download it; anyone else gets 404, as CKAN's own
dataset and resource pages answer (the API keeps CKAN's 403): a caller who
may not read a dataset learns nothing of it, not even that it exists.

Caching (downloads/caching.py): every answer of these routes is private
(`Cache-Control: private, no-store`, `Vary: Authorization, Cookie`) unless
the view finds that it shows only public, active datasets' content; those
answers stay cacheable and conditional (ETag, 304).
"""
from __future__ import annotations

import hashlib
from typing import Any

import flask

import ckan.plugins.toolkit as tk
from ckan.views import resource as ckan_resource_views

from .. import config as dcor_config
from ..fixity import rules as fixity_rules
from ..fixity import store as fixity_store
from ..metrics import counters as metrics
from ..storage import s3
from . import (archives, byte_ranges, caching, ckan_compat, manifests,
               providers, selection)

download_blueprint = flask.Blueprint("dcor_depot_download", __name__)


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name, "auth_user_obj": tk.current_user}


def _plain(status: int, message: str):
    """A one-line answer for bad requests."""
    return flask.Response(message + "\n", status=status,
                          mimetype="text/plain")


def unsatisfiable(length: int, why: str):
    """416 with `Content-Range: bytes */{length}` and one plain line."""
    status, headers, body = byte_ranges.unsatisfiable(length, why)
    response = flask.Response(body, status=status, mimetype="text/plain")
    response.headers.update(headers)
    return response


def not_modified(etag: str):
    """304 if the caller holds this ETag already, else None."""
    if flask.request.if_none_match.contains(etag):
        response = flask.Response(status=304)
        response.set_etag(etag)
        return response
    return None


# Caching: what a view found out about its answer, applied after it (also
# to the error pages of abort()), before CKAN's own after_request, which
# would otherwise call every answer without a rendered template public.

def shows(public_active: bool, per_caller: bool = False) -> None:
    """Record what the answer shows; private until a view says otherwise."""
    flask.g.dcor_depot_caching = (public_active, per_caller)
    if not public_active:
        # CKAN's after_request then says private, not public, max-age=...
        flask.request.environ["__no_cache__"] = True


def apply_caching(response: flask.Response) -> flask.Response:
    """The caching headers of caching.cache_headers. An answer that
    forbids storing already (a presigned URL, a credential) keeps that."""
    public_active, per_caller = flask.g.get("dcor_depot_caching",
                                            (False, True))
    if response.cache_control.no_store or response.status_code >= 400:
        # a refusal may differ between callers, and a credential is
        # nobody else's
        public_active = False
    headers = caching.cache_headers(public_active, per_caller)
    if "Cache-Control" in headers:
        flask.request.environ["__no_cache__"] = True
        response.headers["Cache-Control"] = headers["Cache-Control"]
    for name in headers.get("Vary", "").split(", "):
        if name:
            response.vary.add(name)
    return response


def private_to_identified_callers(response: flask.Response
                                  ) -> flask.Response:
    """Every route of the site, CKAN's API included: CKAN calls each answer
    without a rendered template public (max-age=ckan.cache_expires), so a
    private dataset's package_show, read with a token, would sit in a
    shared cache for anyone. An identified caller's answers are private
    (CKAN's after_request, which runs after this, then says so)."""
    if flask.request.headers.get("Authorization") or \
            getattr(tk.current_user, "is_authenticated", False):
        flask.request.environ["__no_cache__"] = True
        for name in caching.CALLER_HEADERS:
            response.vary.add(name)
    return response


def readable_dataset(id: str) -> dict[str, Any]:
    """The dataset, if the user may read it; else 404, whether it does not
    exist or may not be read (CKAN's own pages do the same)."""
    try:
        dataset = tk.get_action("package_show")(_context(), {"id": id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, tk._("Dataset not found"))
    shows(caching.is_public_active(dataset))
    return dataset


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
    provider = providers.provider_for(resource, dataset)
    if provider is not None and fixity_store.failure(resource_id):
        return _plain(409, fixity_rules.refusal(resource_id))
    if provider is None:
        return ckan_resource_views.download("dataset", id, resource_id,
                                            filename)
    # the one Range rule, before a provider (S3, nginx, another plugin's)
    # gets a range it would answer its own way
    length = resource.get("size")
    if flask.request.headers.get("Range") and isinstance(length, int):
        try:
            byte_ranges.wanted_bytes(flask.request.headers["Range"],
                                     flask.request.headers.get("If-Range"),
                                     resource.get("sha256") or None, length)
        except byte_ranges.UnsatisfiableRange as exc:
            return unsatisfiable(length, str(exc))
        except byte_ranges.RangeError as exc:
            return _plain(400, f"malformed Range header: {exc}")
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


def _conditional(text: str, mimetype: str) -> flask.Response:
    """A manifest's answer, with an ETag of its bytes; 304 if the caller
    holds them already."""
    etag = hashlib.sha256(text.encode()).hexdigest()[:32]
    response = not_modified(etag) or flask.Response(text, mimetype=mimetype)
    response.set_etag(etag)
    return response


def manifest_sha256(id: str):
    return _conditional(manifests.as_sha256sum(_manifest(id)), "text/plain")


def manifest_csv(id: str):
    result = _manifest(id)
    response = _conditional(manifests.as_csv(result), "text/csv")
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{result["dataset"]}-manifest.csv"'
    return response


# Archives of a dataset or a selection

def _counted(chunks, on_end=None):
    """The chunks, counting the bytes sent once the stream ends or the
    client goes (a count per chunk would cost a Redis call each);
    `on_end(sent)` is told the count then."""
    sent = 0
    try:
        for chunk in chunks:
            yield chunk
            sent += len(chunk)
    finally:
        getattr(chunks, "close", lambda: None)()
        if sent:
            metrics.count("archive_bytes", sent)
        if on_end is not None:
            on_end(sent)


def _archive_response(selection_of, comptype: str, name: str | None,
                      layout: str = "plain"):
    """Checks, headers and the (ranged) stream of an archive."""
    if layout not in archives.LAYOUTS:  # before any look-up
        return _plain(400, f"layout must be one of "
                           f"{', '.join(archives.LAYOUTS)}, not {layout!r}")
    try:
        selection = selection_of()
        # private unless every member's dataset is public and active
        shows(all(caching.is_public_active(dataset)
                  for _, dataset in selection))
        archive = archives.build(selection, comptype, name, layout)
    except archives.ArchiveRefused as exc:
        return _plain(exc.status, str(exc))
    layout = archive.layout
    start, end = 0, layout.length - 1
    status = 200
    if flask.request.method in ("GET", "HEAD"):
        unchanged = not_modified(layout.etag)
        if unchanged is not None:
            return unchanged
    try:
        wanted = byte_ranges.wanted_bytes(
            flask.request.headers.get("Range"),
            flask.request.headers.get("If-Range"), layout.etag,
            layout.length)
    except byte_ranges.UnsatisfiableRange as exc:
        return unsatisfiable(layout.length, str(exc))
    except byte_ranges.RangeError as exc:
        return _plain(400, f"malformed Range header: {exc}")
    if wanted.partial and layout.ranges_supported:
        start, end, status = wanted.start, wanted.end, 206
    response = flask.Response(
        status=status, mimetype="application/zip"
        if layout.comptype == "zip" else "application/x-tar")
    if flask.request.method != "HEAD":
        # No stream_with_context: the stream needs nothing from the request
        # (the selection, sources and clients are resolved above), and a
        # context held by an unread stream would be popped whenever it is
        # garbage-collected, in the middle of another request.
        response.response = _counted(
            archives.byte_stream(archive, start, end),
            archives.record_private_grant(archive, start, end))
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


download_blueprint.after_request(apply_caching)
download_blueprint.after_app_request(private_to_identified_callers)


def blueprints() -> list[flask.Blueprint]:
    """The blueprints this plugin registers (blanket factory)."""
    return [download_blueprint]
