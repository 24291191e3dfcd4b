"""Schemas of the API actions."""
from __future__ import annotations

import ckan.plugins.toolkit as tk

from .. import transfer_plan


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
