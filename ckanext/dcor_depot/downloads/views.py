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

from . import archive_stream, manifests, providers

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
    return provider.response(resource, dataset, filename)


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
