"""API actions: direct-upload URLs, and chained CKAN actions that check
incoming resources, purge safely and follow the circles' bulk actions."""
from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan import model

from .. import config as dcor_config
from .. import db, job_queue, jobs
from ..accounting import quota
from ..downloads import manifests
from ..workflows import direct_upload, visibility
from . import provided, resource_guard, schema


@tk.side_effect_free
def resource_upload_s3_urls(context, data_dict) -> dict[str, Any]:
    """Presigned URLs to upload a new resource's file straight to S3.

    Answers GET (as DCOR-Aid asks, with string parameters) and POST. A
    file of up to ``upload_max_part_size`` bytes gets one PUT URL, a
    larger one a URL per part (equal parts) and a ``complete_url``. The
    URLs point at a staging key, sign each part's length and expire after
    ``upload_url_expiry`` seconds. Then create the resource in a dataset
    of the same circle with the returned id and url_type ``s3_upload``.

    Who may call it: whoever may create datasets in the circle (CKAN's
    ``package_create`` with that ``owner_org``). Where another loaded
    plugin provides an action of this name, that one answers instead.

    :param organization_id: id or name of an active circle
    :param file_size: size of the file in bytes, a positive whole number
        (an integer, or its decimal string)
    :returns: ``{"upload_urls": [...], "complete_url": ..., "resource_id":
        ..., "part_size": ..., "expires_in": ...}``; ``complete_url`` is
        None for a single PUT. Every URL takes exactly its part's bytes.
    :raises ValidationError: a parameter is missing or malformed, the file
        is larger than ``ckan.max_resource_size`` or than S3 allows, the
        circle's quota has no room for it (counting the uploads issued
        and not yet accepted), or the site has no object store configured
    :raises ObjectNotFound: no active circle has that id or name
    :raises NotAuthorized: the caller may not create datasets in the
        circle
    """
    data, errors = tk.navl_validate(data_dict, schema.resource_upload_s3_urls(),
                                    context)
    if errors:
        raise tk.ValidationError(errors)
    circle = model.Group.get(data["organization_id"])
    if circle is None or not circle.is_organization or circle.state != "active":
        raise tk.ObjectNotFound(
            f"no such circle: {data['organization_id']}")
    tk.check_access("resource_upload_s3_urls", context,
                    {"organization_id": circle.id})
    check_direct_upload(data["file_size"], "organization_id")
    user = model.User.get(context.get("user") or "")
    try:
        # the issued upload reserves its size inside the circle's lock
        with quota.room_for(circle, data["file_size"]):
            return direct_upload.issue_upload_urls(
                circle.id, data["file_size"], user.id if user else None)
    except quota.QuotaExceeded as exc:
        raise tk.ValidationError({"file_size": [str(exc)]})


@tk.side_effect_free
def dataset_manifest(context, data_dict) -> dict[str, Any]:
    """A dataset's checksum manifest: every stored file with the path the
    archives and the client use (`{dataset_name}/{resource_name}`), its
    size, sha256 and download URL. Links are not listed. Answers GET and
    POST; changes nothing.

    Who may call it: whoever may read the dataset (CKAN's
    ``package_show``), anonymous users included for a public dataset.

    :param id: id or name of the dataset
    :returns: ``{"dataset", "complete", "files": [{"path", "size",
        "sha256", "resource_id", "url"}], "count", "total_bytes"}``;
        ``complete`` is false while some file has no sha256 yet.
    :raises ValidationError: ``id`` is missing
    :raises ObjectNotFound: no dataset has that id or name
    :raises NotAuthorized: the caller may not read the dataset
    """
    tk.check_access("dataset_manifest", context, data_dict)
    dataset = tk.get_action("package_show")(context, {
        "id": tk.get_or_bust(data_dict, "id")})
    return manifests.dataset_manifest(dataset)


def _max_resource_bytes() -> int:
    """ckan.max_resource_size (MB), the limit CKAN applies to uploads."""
    return int(tk.config.get("ckan.max_resource_size") or 0) * 1024**2


def check_direct_upload(file_size: int, where_field: str) -> None:
    """A direct upload of `file_size` bytes needs the object store and
    must be within ckan.max_resource_size (ValidationError otherwise)."""
    if not dcor_config.s3_enabled():
        raise tk.ValidationError({where_field: [
            "direct uploads need the object store, which is not configured"]})
    limit = _max_resource_bytes()
    if limit and file_size > limit:
        raise tk.ValidationError({"file_size": [
            f"{file_size} bytes is more than this site's limit of "
            f"{limit} bytes (ckan.max_resource_size)"]})


@tk.chained_action
def package_create(up_func, context, data_dict):
    """CKAN's ``package_create``, with the dataset's resources checked
    first (every route that creates or changes resources ends here or in
    ``package_update``).

    Fields the site sets (``s3_available``, ``s3_url``, ``sha256``,
    ``etag``, ``crc32``) cannot be claimed by a client. A resource may
    bring its own id only if it is a UUID that no resource, file or object
    uses yet. A resource that claims a direct upload (``url_type:
    s3_upload``, or ``s3_available: true`` without ``url_type``) is
    accepted only with an id that ``resource_upload_s3_urls`` issued for
    the dataset's circle and whose uploaded object has the announced size;
    the object is then copied to the resource's key.

    Who may call it: whoever may create the dataset (CKAN's
    ``package_create`` auth, checked before anything else).

    :param resources: as CKAN's ``package_create``; all of CKAN's
        parameters apply unchanged
    :returns: the new dataset, as CKAN's ``package_create``
    :raises ValidationError: a resource sets a field the site sets, brings
        an id that is not a UUID or is already used, or claims a direct
        upload that was not issued, is missing or has another size; and
        CKAN's own validation errors
    :raises NotAuthorized: the caller may not create the dataset
    """
    # authorisation first: the checks below look at CKAN's files and S3,
    # and their answers must not reach someone who may not create this
    tk.check_access("package_create", context, data_dict)
    resource_guard.check_incoming_resources(
        context, data_dict, data_dict.get("owner_org"), None)
    return up_func(context, data_dict)


@tk.chained_action
def package_update(up_func, context, data_dict):
    """CKAN's ``package_update``, with the resources checked first, as in
    ``package_create``. A resource that exists keeps the fields the site
    set (an update that leaves them out keeps them; one that changes them
    is refused), and the ``size`` and ``url_type`` of a stored file cannot
    change: a new file is a new resource. New resources are checked as in
    ``package_create``.

    Who may call it: whoever may update the dataset (CKAN's
    ``package_update`` auth, checked before anything else).

    :param resources: as CKAN's ``package_update``; all of CKAN's
        parameters apply unchanged
    :returns: the updated dataset, as CKAN's ``package_update``
    :raises ValidationError: a resource changes a field the site set, or a
        new resource is refused as in ``package_create``; and CKAN's own
        validation errors
    :raises NotAuthorized: the caller may not update the dataset
    """
    tk.check_access("package_update", context, data_dict)
    package = model.Package.get(data_dict.get("id") or
                                data_dict.get("name") or "")
    owner_org = data_dict.get("owner_org") or (
        package.owner_org if package else None)
    resource_guard.check_incoming_resources(context, data_dict, owner_org,
                                            package)
    return up_func(context, data_dict)


@tk.chained_action
def dataset_purge(up_func, context, data_dict):
    """CKAN's ``dataset_purge``, with the dataset's objects made private
    first. Purging calls no hooks and afterwards no row says where the
    objects are, so their public tag is taken off and CKAN's symlinks are
    removed before the rows go. The verified depot copies and the objects
    stay (``ckan dcor-depot-orphans`` finds them).

    Who may call it: whoever may purge the dataset (CKAN's
    ``dataset_purge`` auth: sysadmins by default), checked before
    anything is changed.

    :param id: id or name of the dataset, as CKAN's ``dataset_purge``
    :returns: nothing, as CKAN's ``dataset_purge``
    :raises NotAuthorized: the caller may not purge the dataset
    :raises ObjectNotFound: no dataset has that id or name (CKAN's)
    """
    package = model.Package.get(data_dict.get("id") or "")
    if package is not None:
        tk.check_access("dataset_purge", context, data_dict)
        visibility.before_purge(package.id)
    return up_func(context, data_dict)


def _bulk_update(up_func, context, data_dict, deleting: bool = False):
    result = up_func(context, data_dict)
    # CKAN 2.11 updates these rows by SQL without calling any hook
    packages = [package for package in map(model.Package.get,
                                           data_dict.get("datasets") or [])
                if package is not None]
    for package in packages:
        if deleting and package.state == "deleted":
            db.record_deletion("dataset", package.id)
        job_queue.request(jobs.VISIBILITY, package.id)
    model.repo.commit()
    return result


@tk.chained_action
def bulk_update_private(up_func, context, data_dict):
    """CKAN's ``bulk_update_private`` (a circle's datasets made private at
    once), followed by a visibility job per dataset. CKAN updates these
    rows by SQL without calling any dataset hook, so the jobs that tag or
    untag the datasets' objects are queued here.

    Who may call it: as CKAN's ``bulk_update_private`` (admins of the
    circle and sysadmins), checked by CKAN.

    :param datasets: ids of the datasets, as CKAN's
    :param org_id: id of their circle, as CKAN's
    :returns: nothing, as CKAN's ``bulk_update_private``
    :raises NotAuthorized: the caller may not update the circle's datasets
        (CKAN's)
    """
    return _bulk_update(up_func, context, data_dict)


@tk.chained_action
def bulk_update_public(up_func, context, data_dict):
    """CKAN's ``bulk_update_public`` (a circle's datasets made public at
    once), followed by a visibility job per dataset. CKAN updates these
    rows by SQL without calling any dataset hook, so the jobs that tag or
    untag the datasets' objects are queued here.

    Who may call it: as CKAN's ``bulk_update_public`` (admins of the
    circle and sysadmins), checked by CKAN.

    :param datasets: ids of the datasets, as CKAN's
    :param org_id: id of their circle, as CKAN's
    :returns: nothing, as CKAN's ``bulk_update_public``
    :raises NotAuthorized: the caller may not update the circle's datasets
        (CKAN's)
    """
    return _bulk_update(up_func, context, data_dict)


@tk.chained_action
def bulk_update_delete(up_func, context, data_dict):
    """CKAN's ``bulk_update_delete`` (a circle's datasets deleted at
    once), followed by a visibility job per dataset. CKAN updates these
    rows by SQL without calling any dataset hook, so the jobs that tag or
    untag the datasets' objects are queued here. The deletion of each
    dataset is recorded, so that ``ckanext.dcor_depot.deleted_grace_days``
    counts from it.

    Who may call it: as CKAN's ``bulk_update_delete`` (admins of the
    circle and sysadmins), checked by CKAN.

    :param datasets: ids of the datasets, as CKAN's
    :param org_id: id of their circle, as CKAN's
    :returns: nothing, as CKAN's ``bulk_update_delete``
    :raises NotAuthorized: the caller may not update the circle's datasets
        (CKAN's)
    """
    return _bulk_update(up_func, context, data_dict, deleting=True)


def actions() -> dict:
    """The actions this plugin registers (blanket factory)."""
    ours = {"package_create": package_create,
            "package_update": package_update,
            "dataset_purge": dataset_purge,
            "bulk_update_private": bulk_update_private,
            "bulk_update_public": bulk_update_public,
            "bulk_update_delete": bulk_update_delete,
            "dataset_manifest": dataset_manifest}
    if not provided.provided_by_another_plugin(
            p.IActions, "get_actions", "resource_upload_s3_urls"):
        ours["resource_upload_s3_urls"] = resource_upload_s3_urls
    return ours
