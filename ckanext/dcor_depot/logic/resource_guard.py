"""Checks on the resources of a dataset dict before CKAN saves it.

Every route that writes resources (resource_create/update/patch/delete,
package_create/update/patch/revise) ends in package_create or
package_update, whose chained actions call `check_incoming_resources`:

- Fields the site sets (`s3_available`, `s3_url`, `sha256`, `etag`,
  `crc32`, `upload_verification`, and `size`/`url_type` of a stored file) cannot be set or
  changed by a client; where a client leaves them out they are kept.
- A new resource with a client-chosen id must have a canonical UUID (other
  spellings are normalised) that no row, CKAN file or object uses yet: a
  deleted or purged resource's leftovers are never adopted.
- A new resource that claims a direct upload (`url_type: s3_upload`, or
  DCOR-Aid's `s3_available: true`) is accepted only for an id issued by
  resource_upload_s3_urls whose object is in the dataset's circle bucket.

Our own jobs and commands (context `dcor_depot_internal`) are trusted.
"""
from __future__ import annotations

import os
import uuid
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from .. import config as dcor_config
from .. import naming, resource_state
from ..storage import ckan_uploader, s3
from ..workflows import direct_upload, records

SITE_FIELDS = resource_state.SITE_FIELDS
STORED_URL_TYPES = resource_state.STORED_URL_TYPES


def _refuse(message: str) -> None:
    raise tk.ValidationError({"resources": [message]})


def _same(given: Any, stored: Any) -> bool:
    if given in ("", None):
        return stored in ("", None)
    if isinstance(stored, bool):
        return tk.asbool(given) == stored
    if isinstance(stored, int):
        try:
            return int(given) == stored
        except (TypeError, ValueError):
            return False
    return str(given) == str(stored)


def _keep_site_fields(resource: dict[str, Any], stored: model.Resource
                      ) -> None:
    """A resource that exists: site fields stay as stored."""
    extras = stored.extras or {}
    kept = {field: extras.get(field) for field in SITE_FIELDS}
    if stored.url_type in STORED_URL_TYPES:
        kept["url_type"] = stored.url_type
        kept["size"] = stored.size
    for field, value in kept.items():
        if field in resource and not _same(resource[field], value):
            if field == "url_type":  # CKAN's form after "Remove", "Link"
                _refuse(ckan_uploader.not_removable(stored.id))
            _refuse(f"{field} of resource {stored.id} is set by the site "
                    f"and cannot be changed")
        if value is not None:
            resource[field] = value


def canonical_resource_id(rid: Any) -> str:
    """The canonical spelling of a client-chosen resource id."""
    try:
        return str(uuid.UUID(str(rid)))
    except ValueError:
        _refuse(f"resource id {rid!r} is not a UUID")
        raise  # unreachable


def _refuse_taken_id(rid: str, owner_org: str | None,
                     direct_upload_claim: bool) -> None:
    if model.Session.get(model.Resource, rid) is not None:
        _refuse(f"resource id {rid} is already used")
    if os.path.lexists(records.ckan_path(rid)):
        _refuse(f"resource id {rid} has a file left at CKAN's path")
    if direct_upload_claim or not (dcor_config.s3_enabled() and owner_org):
        return  # a direct upload's object is checked on acceptance
    client = s3.get_client()
    bucket = s3.bucket_for_circle(owner_org)
    for artifact in naming.ARTIFACTS:
        if s3.object_head(client, bucket,
                          naming.object_key(artifact, rid)) is not None:
            _refuse(f"resource id {rid} already has an object")


def _accept_new(resource: dict[str, Any], owner_org: str | None) -> None:
    claim = direct_upload.is_direct_upload_claim(resource)
    if resource.get("id"):
        resource["id"] = canonical_resource_id(resource["id"])
        _refuse_taken_id(resource["id"], owner_org, claim)
    if not claim:
        for field in SITE_FIELDS:
            value = resource.pop(field, None)
            if value not in (None, "") and (field != "s3_available"
                                           or tk.asbool(value)):
                _refuse(f"{field} is set by the site; a client cannot "
                        "claim it")
        return
    if not resource.get("id"):
        _refuse("a direct upload needs the resource id from "
                "resource_upload_s3_urls")
    if not dcor_config.s3_enabled():
        _refuse("direct uploads need the object store, which is not "
                "configured")
    if not owner_org:
        _refuse("a dataset with direct uploads needs a circle")
    for field in ("sha256", "etag", "crc32", "s3_url",
                  resource_state.UPLOAD_VERIFICATION):
        resource.pop(field, None)  # never trusted from the client
    try:
        resource.update(direct_upload.accept_direct_upload(resource["id"],
                                                           owner_org))
    except direct_upload.DirectUploadRefused as exc:
        _refuse(str(exc))


def check_incoming_resources(context: dict[str, Any],
                             data_dict: dict[str, Any],
                             owner_org: str | None,
                             package: model.Package | None) -> None:
    if context.get("dcor_depot_internal"):
        return
    resources = data_dict.get("resources")
    if not isinstance(resources, list):
        return
    stored = {}
    if package is not None:
        stored = {r.id: r for r in model.Session.query(model.Resource)
                  .filter(model.Resource.package_id == package.id,
                          model.Resource.state == "active")}
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        existing = stored.get(resource.get("id"))
        if existing is not None:
            _keep_site_fields(resource, existing)
        else:
            _accept_new(resource, owner_org)
