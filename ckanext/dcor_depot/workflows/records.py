"""CKAN's records as the depot's workflows read and write them.

Our own actions run with `system_context()`: as the site user, marked as
background work (our hooks leave it alone) and as the extension's own (it
may set the fields that clients may not, and choose resource ids).
"""
from __future__ import annotations

import os
from typing import Any

import ckan.plugins.toolkit as tk

from .. import ckan_storage
from .. import config as dcor_config
from .. import naming, resource_state


def system_context() -> dict[str, Any]:
    """Context for actions run on behalf of the depot (no request user)."""
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"ignore_auth": True, "user": site_user["name"],
            "is_background_job": True, "dcor_depot_internal": True}


def show_resource(resource_id: str) -> dict[str, Any]:
    return tk.get_action("resource_show")(system_context(),
                                          {"id": resource_id})


def show_dataset(dataset_id: str) -> dict[str, Any]:
    return tk.get_action("package_show")(system_context(),
                                         {"id": dataset_id})


def ckan_path(resource_id: str) -> str:
    """Where CKAN expects the file of a resource (ValueError for an id
    that is not a canonical UUID)."""
    return naming.resource_file(ckan_storage.resource_files_dir(),
                                resource_id)


def local_facts(resource_id: str) -> resource_state.LocalFacts:
    path = ckan_path(resource_id)
    return resource_state.LocalFacts(is_symlink=os.path.islink(path),
                                     exists=os.path.lexists(path))


def steps_needed(resource: dict[str, Any]) -> list[resource_state.Step]:
    """The steps a resource has not completed (ValueError for an id that
    names no file)."""
    return resource_state.steps_needed(resource,
                                       local_facts(resource["id"]),
                                       dcor_config.s3_enabled())


def resource_file_name(resource: dict[str, Any]) -> str:
    url = resource.get("url") or ""
    return resource.get("name") or url.rsplit("/", 1)[-1] or "resource"


def user_depot_path(resource: dict[str, Any],
                    dataset: dict[str, Any]) -> str:
    """Where the user depot keeps the resource's file."""
    creator = tk.get_action("user_show")(
        system_context(), {"id": dataset["creator_user_id"]})
    organization = dataset.get("organization") or {}
    if not organization.get("name"):
        raise ValueError(f"dataset {dataset['id']} belongs to no circle")
    return naming.user_depot_path(
        depots_path=dcor_config.depots_path(),
        users_depot_name=dcor_config.users_depot_name(),
        user_name=creator["name"], org_name=organization["name"],
        pid=dataset["id"], dataset_name=dataset["name"],
        rid=resource["id"], resource_name=resource_file_name(resource))


def save_site_fields(resource: dict[str, Any],
                     fields: dict[str, Any]) -> bool:
    """Set the fields the site sets on a resource, if any differ. Returns
    True if something was saved."""
    changed = resource_state.fields_to_change(resource, fields)
    if changed:
        tk.get_action("resource_patch")(system_context(),
                                        {"id": resource["id"], **changed})
    return bool(changed)
