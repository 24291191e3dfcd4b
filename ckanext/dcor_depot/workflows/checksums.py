"""The checksums step: sha256 and CRC-32 of a stored resource that no
transfer gave them (stored before CRC-32 was kept, or a site without an
object store). One read of the local file, or of the object where S3
holds the only copy; a sha256 that differs from the recorded one is a
fixity problem, reported and not saved."""
from __future__ import annotations

import os

from ..storage import depot, digest, s3
from . import records, visibility


class ChecksumMismatch(RuntimeError):
    """The bytes do not have the sha256 the resource records."""


def fill_checksums(resource_id: str) -> str:
    resource = records.show_resource(resource_id)
    if resource.get("sha256") and resource.get("crc32") is not None:
        return "done"
    path = records.ckan_path(resource_id)
    if os.path.isfile(path):
        info = depot.file_info(path, crc32=True)
        sha256, crc32, size, source = info.sha256, info.crc32, info.size, path
    else:
        location = visibility.recorded_location(resource)
        if location is None:
            raise FileNotFoundError(f"resource {resource_id} has neither a "
                                    "local file nor an object")
        got = s3.object_digests(s3.get_client(), *location,
                                digester=digest.Digester(crc32=True))
        sha256, crc32, size = got.sha256, got.crc32, got.size
        source = f"s3://{location[0]}/{location[1]}"
    recorded = resource.get("sha256")
    if recorded and recorded != sha256:
        raise ChecksumMismatch(f"{source} has sha256 {sha256}, the resource "
                               f"records {recorded}")
    records.save_site_fields(resource, {"sha256": sha256, "crc32": crc32,
                                        "size": size})
    return "computed"
