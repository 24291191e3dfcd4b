"""API actions of multipart uploads that a client signs part by part (the
browser's uploader; Uppy's S3 multipart plugin calls them without a
Companion server)."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ..accounting import quota
from ..workflows import multipart_upload
from . import schema
from .action import check_direct_upload

NOT_YOURS = "no unfinished upload of yours has this resource id"


def _validated(data_dict, schema_of, context) -> dict[str, Any]:
    data, errors = tk.navl_validate(data_dict, schema_of(), context)
    if errors:
        raise tk.ValidationError(errors)
    return data


def _own_upload(context, data_dict, action: str, schema_of
                ) -> tuple[dict[str, Any], multipart_upload.Upload]:
    """The validated parameters and the caller's unfinished upload; a 403
    that says nothing more for anyone else's, or none."""
    data = _validated(data_dict, schema_of, context)
    tk.check_access(action, context, data)
    user = model.User.get(context.get("user") or "")
    try:
        return data, multipart_upload.owned_upload(
            data["resource_id"], user.id if user else None)
    except multipart_upload.NotYours:
        raise tk.NotAuthorized(NOT_YOURS) from None


def _refused(exc: multipart_upload.UploadRefused) -> tk.ValidationError:
    return tk.ValidationError({exc.field: [str(exc)]})


def resource_upload_multipart_create(context, data_dict) -> dict[str, Any]:
    """Start a multipart upload of a new resource's file straight to S3,
    to be signed part by part, or find the caller's unfinished upload of
    the same file again.

    The file is cut into ``part_count`` parts of ``part_size`` bytes (the
    last one shorter), as
    :confval:`ckanext.dcor_depot.multipart_part_size` says. If the caller
    already has an unfinished upload of a file with the same ``name``,
    ``file_size`` and ``last_modified`` to this dataset, that upload is
    returned instead of a new one (ask
    ``resource_upload_multipart_list_parts`` which parts S3 holds). An
    upload lives :confval:`ckanext.dcor_depot.multipart_upload_lifetime`
    seconds; until it is completed, aborted or expired its size counts
    against the circle's quota.

    Who may call it: a signed-in user who may add resources to the
    dataset (CKAN's ``resource_create`` auth).

    :param package_id: id or name of the dataset (active or draft)
    :param name: the file's name, which becomes the resource's name (at
        most 1000 bytes, no line breaks)
    :param file_size: size of the file in bytes, a positive whole number
    :param last_modified: optional; the file's last-modified time in
        milliseconds since 1970 (JavaScript's ``File.lastModified``), to
        recognise the same file after a reload
    :returns: ``{"resource_id", "upload_id", "part_size", "part_count",
        "expires_in"}``; ``expires_in`` is the seconds left of the upload's
        lifetime
    :raises ValidationError: a parameter is missing or malformed, the file
        is larger than ``ckan.max_resource_size`` or than S3 allows, the
        circle's quota has no room for it, the dataset has no circle, or
        the site has no object store configured
    :raises ObjectNotFound: no dataset has that id or name, or it is
        deleted
    :raises NotAuthorized: the caller may not add resources to the dataset
    """
    data = _validated(data_dict, schema.resource_upload_multipart_create,
                      context)
    package = model.Package.get(data["package_id"])
    if package is None or package.state == "deleted":
        raise tk.ObjectNotFound(f"no such dataset: {data['package_id']}")
    tk.check_access("resource_upload_multipart_create", context,
                    {"package_id": package.id})
    check_direct_upload(data["file_size"], "package_id")
    circle = model.Group.get(package.owner_org or "")
    if circle is None:
        raise tk.ValidationError({"package_id": [
            "a dataset with direct uploads needs a circle"]})
    user = model.User.get(context.get("user") or "")
    if user is None:
        raise tk.NotAuthorized("only a signed-in user can upload")
    unfinished = multipart_upload.find_unfinished(
        user.id, package.id, data["name"], data["file_size"],
        data.get("last_modified"))
    if unfinished is not None:
        return unfinished.summary()
    try:
        # the record reserves the size inside the circle's lock
        with quota.room_for(circle, data["file_size"]):
            upload = multipart_upload.start(
                circle.id, package.id, user.id, data["name"],
                data["file_size"], data.get("last_modified"))
    except quota.QuotaExceeded as exc:
        raise tk.ValidationError({"file_size": [str(exc)]})
    return upload.summary()


def resource_upload_multipart_sign_part(context, data_dict
                                        ) -> dict[str, Any]:
    """A presigned PUT URL for one part of the caller's multipart upload.

    The URL signs the part's exact length and its ``Content-MD5``, so S3
    itself refuses any other bytes. It lives
    :confval:`ckanext.dcor_depot.multipart_part_url_expiry` seconds: ask
    for it just before sending the part.

    Who may call it: only the user who created the upload (anyone else,
    and anonymous users, get a 403 that says nothing about it).

    :param resource_id: the ``resource_id`` that
        ``resource_upload_multipart_create`` returned
    :param part_number: the part, from 1 to the upload's ``part_count``
    :param content_md5: the MD5 of the part's bytes, base64-encoded (the
        value of the ``Content-MD5`` header)
    :returns: ``{"url", "method": "PUT", "headers": {"Content-MD5": ...},
        "content_length", "expires_in"}``: send exactly
        ``content_length`` bytes with these headers
    :raises ValidationError: a parameter is missing or malformed, or the
        part number is outside the upload's parts
    :raises NotAuthorized: the caller has no unfinished upload with that
        resource id
    """
    data, upload = _own_upload(context, data_dict,
                               "resource_upload_multipart_sign_part",
                               schema.resource_upload_multipart_sign_part)
    try:
        return multipart_upload.sign_part(upload, data["part_number"],
                                          data["content_md5"])
    except multipart_upload.UploadRefused as exc:
        raise _refused(exc)


@tk.side_effect_free
def resource_upload_multipart_list_parts(context, data_dict
                                         ) -> list[dict[str, Any]]:
    """The parts of the caller's multipart upload that S3 holds (a resumed
    upload sends only the others). Answers GET and POST.

    Who may call it: only the user who created the upload (anyone else,
    and anonymous users, get a 403 that says nothing about it).

    :param resource_id: the upload's ``resource_id``
    :returns: ``[{"part_number", "etag", "size"}]`` in part order
    :raises ValidationError: ``resource_id`` is missing or malformed, or
        the object store no longer holds the upload
    :raises NotAuthorized: the caller has no unfinished upload with that
        resource id
    """
    _, upload = _own_upload(context, data_dict,
                            "resource_upload_multipart_list_parts",
                            schema.resource_upload_multipart_upload)
    try:
        return multipart_upload.list_parts(upload)
    except multipart_upload.UploadRefused as exc:
        raise _refused(exc)


def resource_upload_multipart_complete(context, data_dict
                                       ) -> dict[str, Any]:
    """Complete the caller's multipart upload and create its resource.

    Every part must be in S3 with the given ETag and the layout's length,
    and the ETag they give must be the client's ``etag``; then the upload
    is completed at the staging key and the resource is created (name:
    the file's name) through the same acceptance as every direct upload
    (``url_type: s3_upload``): copied to the resource's key, backed up to
    the depot by a job, tagged as its dataset's visibility says. A
    ``sha256`` is never trusted: the backup job compares it with the
    sha256 it computes from the object and sets the resource's
    ``upload_verification`` to ``verified`` or ``failed``. An upload to a
    dataset deleted in the meantime is aborted.

    Who may call it: only the user who created the upload (anyone else,
    and anonymous users, get a 403 that says nothing about it), who must
    still be allowed to add resources to the dataset.

    :param resource_id: the upload's ``resource_id``
    :param parts: ``[{"part_number", "etag"}]``, every part of the upload
        with the ETag S3 answered to its PUT
    :param etag: the multipart ETag the client computed (md5 of the parts'
        md5s, ``-``, the number of parts; one part ends in ``-1``)
    :param sha256: optional; the sha256 the client computed of its file
    :returns: the new resource, as ``resource_create`` returns it
    :raises ValidationError: a parameter is missing or malformed, a part is
        missing or differs from what S3 holds, the ETag differs, the
        dataset was deleted (the upload is then aborted), or the resource
        is refused as in ``package_update``
    :raises NotAuthorized: the caller has no unfinished upload with that
        resource id, or may no longer add resources to the dataset
    """
    # CKAN 2.11's navl takes a list of dicts for a nested schema: the
    # parts are validated on their own
    data, upload = _own_upload(
        context, {k: v for k, v in data_dict.items() if k != "parts"},
        "resource_upload_multipart_complete",
        schema.resource_upload_multipart_complete)
    try:
        parts = schema.parts_validator(data_dict.get("parts"), context)
    except tk.Invalid as exc:
        raise tk.ValidationError({"parts": [exc.error]}) from None
    # before S3 completes anything: the resource must be creatable by them
    if not multipart_upload.dataset_gone(upload.package_id):
        tk.check_access("resource_create", context,
                        {"package_id": upload.package_id})
    try:
        multipart_upload.complete(upload, parts, data["etag"],
                                  data.get("sha256"))
    except multipart_upload.UploadRefused as exc:
        raise _refused(exc)
    return tk.get_action("resource_create")(
        {"user": context.get("user")},
        {"package_id": upload.package_id, "id": upload.resource_id,
         "name": upload.name, "url": upload.name, "url_type": "s3_upload"})


def resource_upload_multipart_abort(context, data_dict) -> dict[str, Any]:
    """Abort the caller's multipart upload: S3 drops its parts, no staging
    object is left, and its size no longer counts against the quota.

    Who may call it: only the user who created the upload (anyone else,
    and anonymous users, get a 403 that says nothing about it).

    :param resource_id: the upload's ``resource_id``
    :returns: ``{"resource_id", "aborted": true}``
    :raises ValidationError: ``resource_id`` is missing or malformed
    :raises NotAuthorized: the caller has no unfinished upload with that
        resource id
    """
    _, upload = _own_upload(context, data_dict,
                            "resource_upload_multipart_abort",
                            schema.resource_upload_multipart_upload)
    multipart_upload.abort(upload)
    return {"resource_id": upload.resource_id, "aborted": True}


def actions() -> dict:
    """The actions this module registers (blanket factory)."""
    return {"resource_upload_multipart_create":
            resource_upload_multipart_create,
            "resource_upload_multipart_sign_part":
            resource_upload_multipart_sign_part,
            "resource_upload_multipart_list_parts":
            resource_upload_multipart_list_parts,
            "resource_upload_multipart_complete":
            resource_upload_multipart_complete,
            "resource_upload_multipart_abort":
            resource_upload_multipart_abort}
