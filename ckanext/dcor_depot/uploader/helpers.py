"""Template helpers of the browser uploader."""
from __future__ import annotations

from typing import Any, Mapping

from .. import config as dcor_config


def dcor_uploader_enabled(data: Mapping[str, Any] | None) -> bool:
    """The resource form shows the uploader for a new resource while the
    object store is configured: its uploads go straight to S3. An
    existing resource's file is never replaced (stored_file_field.html)."""
    return dcor_config.s3_enabled() and not (data or {}).get("id")


def helpers() -> dict[str, Any]:
    return {"dcor_uploader_enabled": dcor_uploader_enabled}
