"""Schemas of the API actions."""
from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any

import ckan.plugins.toolkit as tk

from .. import naming, transfer_plan

MAX_NAME_BYTES = 1000
_PART_ETAG = re.compile(r"[0-9a-f]{32}")
_MULTIPART_ETAG = re.compile(r"[0-9a-f]{32}-[1-9][0-9]{0,4}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def file_size_validator(value, context):
    try:
        if isinstance(value, bool):
            raise ValueError
        size = int(value)
        if str(size) != str(value).strip() and not isinstance(value, int):
            raise ValueError
    except (TypeError, ValueError):
        raise tk.Invalid("must be a positive whole number of bytes") from None
    if not 1 <= size <= transfer_plan.MAX_OBJECT_SIZE:
        raise tk.Invalid(
            f"must be a positive number of bytes, at most "
            f"{transfer_plan.MAX_OBJECT_SIZE}")
    return size


def resource_upload_s3_urls():
    not_empty = tk.get_validator("not_empty")
    unicode_safe = tk.get_validator("unicode_safe")
    return {
        "organization_id": [not_empty, unicode_safe],
        "file_size": [not_empty, file_size_validator],
    }


def _whole_number(value, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise tk.Invalid(f"must be a whole number ({what})")
    try:
        number = int(value)
    except ValueError:
        raise tk.Invalid(f"must be a whole number ({what})") from None
    if not low <= number <= high:
        raise tk.Invalid(f"must be between {low} and {high} ({what})")
    return number


def last_modified_validator(value, context):
    # JavaScript's File.lastModified: milliseconds since 1970
    return _whole_number(value, 0, 2**53, "milliseconds since 1970")


def part_number_validator(value, context):
    return _whole_number(value, 1, transfer_plan.MAX_PARTS,
                         "a part number from 1")


def resource_id_validator(value, context):
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise tk.Invalid("must be a resource id (a UUID)") from None


def resource_name_validator(value, context):
    if not isinstance(value, str) or not value.strip():
        raise tk.Invalid("must be the file's name")
    if len(value.encode()) > MAX_NAME_BYTES:
        raise tk.Invalid(f"must be at most {MAX_NAME_BYTES} bytes")
    if naming.first_line_break(value) is not None:
        raise tk.Invalid("must not contain a line break")
    return value


def content_md5_validator(value, context):
    try:
        digest = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise tk.Invalid("must be the part's MD5 in base64 (24 characters)")
    return str(value)


def _etag(value: Any, multipart: bool) -> str:
    text = str(value).strip('"').lower() if isinstance(value, str) else ""
    if not (_MULTIPART_ETAG if multipart else _PART_ETAG).fullmatch(text):
        raise tk.Invalid(
            "must be an S3 multipart ETag (32 hex digits, '-', the number "
            "of parts)" if multipart else
            "must be a part's ETag (32 hex digits)")
    return text


def multipart_etag_validator(value, context):
    return _etag(value, multipart=True)


def sha256_validator(value, context):
    text = value.lower() if isinstance(value, str) else ""
    if not _SHA256.fullmatch(text):
        raise tk.Invalid("must be 64 hex digits")
    return text


def parts_validator(value, context):
    """[{part_number, etag}] with each part number once."""
    if value is None:
        raise tk.Invalid("Missing value")
    if not isinstance(value, list) or not value:
        raise tk.Invalid("must be a list of {part_number, etag}")
    parts, seen = [], set()
    for part in value:
        if not isinstance(part, dict):
            raise tk.Invalid("must be a list of {part_number, etag}")
        try:
            number = part_number_validator(part.get("part_number"), context)
            etag = _etag(part.get("etag"), multipart=False)
        except tk.Invalid as exc:
            raise tk.Invalid(f"part {part.get('part_number')!r}: "
                             f"{exc.error}") from None
        if number in seen:
            raise tk.Invalid(f"part {number} is listed twice")
        seen.add(number)
        parts.append({"part_number": number, "etag": etag})
    return parts


def resource_upload_multipart_create():
    not_empty = tk.get_validator("not_empty")
    ignore_missing = tk.get_validator("ignore_missing")
    unicode_safe = tk.get_validator("unicode_safe")
    return {
        "package_id": [not_empty, unicode_safe],
        "name": [not_empty, resource_name_validator],
        "file_size": [not_empty, file_size_validator],
        "last_modified": [ignore_missing, last_modified_validator],
    }


def resource_upload_multipart_upload():
    """Of the calls that name an upload only by its resource id."""
    return {"resource_id": [tk.get_validator("not_empty"),
                            resource_id_validator]}


def resource_upload_multipart_sign_part():
    not_empty = tk.get_validator("not_empty")
    return {**resource_upload_multipart_upload(),
            "part_number": [not_empty, part_number_validator],
            "content_md5": [not_empty, content_md5_validator]}


def resource_upload_multipart_complete():
    not_empty = tk.get_validator("not_empty")
    ignore_missing = tk.get_validator("ignore_missing")
    # and `parts`, checked with parts_validator on its own
    return {**resource_upload_multipart_upload(),
            "etag": [not_empty, multipart_etag_validator],
            "sha256": [ignore_missing, sha256_validator]}
