"""CKAN's resource download routes, answered by the download providers.

The URLs stay CKAN's own (`/dataset/{id}/resource/{rid}/download[/{name}]`);
this blueprint is registered before CKAN's, so it answers them. Resources
no provider serves (links) get CKAN's own answer.
"""
from __future__ import annotations

import flask

import ckan.plugins.toolkit as tk
from ckan.views import resource as ckan_resource_views

from . import providers

download_blueprint = flask.Blueprint("dcor_depot_download", __name__)


def download(id: str, resource_id: str, filename: str | None = None):
    context = {"user": tk.current_user.name,
               "auth_user_obj": tk.current_user}
    try:
        resource = tk.get_action("resource_show")(context,
                                                  {"id": resource_id})
        dataset = tk.get_action("package_show")(context, {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Resource not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Not authorized to download resource"))
    if resource["package_id"] != dataset["id"]:
        return tk.abort(404, tk._("Resource not found"))
    provider = providers.provider_for(resource, dataset)
    if provider is None:
        return ckan_resource_views.download("dataset", id, resource_id,
                                            filename)
    return provider.response(resource, dataset, filename)


for rule in ("/dataset/<id>/resource/<resource_id>/download",
             "/dataset/<id>/resource/<resource_id>/download/<filename>"):
    download_blueprint.add_url_rule(rule, view_func=download,
                                    methods=["GET", "HEAD"])


def blueprints() -> list[flask.Blueprint]:
    """The blueprints this plugin registers (blanket factory)."""
    return [download_blueprint]
