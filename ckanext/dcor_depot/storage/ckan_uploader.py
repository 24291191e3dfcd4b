"""CKAN's resource uploader, aware of depot symlinks.

CKAN writes an uploaded file below `ckan.storage_path` or, on CKAN 2.12,
into its configured resource storage; `resource_uploader` picks the same
one CKAN would (see `ckan_storage`), so the depot move starts from where
the operator told CKAN to write.

CKAN refuses a resource path that is a symlink, so without this every
update of a dataset whose files are in the depot would fail. Files of
stored resources are immutable: a new file means a new resource, because
writing through the symlink would overwrite the verified depot copy, and
they are never removed through CKAN's uploader (the form's "Remove", or
`clear_upload`): the depot's copies are removed only by
`dcor-depot-orphans`, after the resource is gone.
"""
from __future__ import annotations

import os
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib.uploader import ResourceUpload

from .. import ckan_storage
from .. import config as dcor_config
from ..resource_state import STORED_URL_TYPES

try:  # CKAN 2.12
    from ckan.lib.uploader import FKResourceUpload
except ImportError:  # CKAN 2.11
    FKResourceUpload = None

def resource_uploader(resource: dict[str, Any]):
    """The uploader CKAN would use, with the depot's guards."""
    if ckan_storage.resource_storage() is not None:
        return DepotStorageResourceUpload(resource)
    return DepotResourceUpload(resource)


def _stored_url_type(resource_id: str | None) -> str | None:
    if not resource_id:
        return None
    from ckan import model

    stored = model.Session.get(model.Resource, resource_id)
    if stored is not None and stored.url_type in STORED_URL_TYPES:
        return stored.url_type
    return None


def _refuse(message: str) -> None:
    raise tk.ValidationError({"upload": [message]})


def not_replaceable(resource_id: str) -> str:
    return (f"the file of resource {resource_id} cannot be replaced; "
            "upload it as a new resource")


def not_removable(resource_id: str) -> str:
    return (f"the file of resource {resource_id} cannot be removed or "
            "turned into a link; delete the resource instead")


class _DepotGuards:
    """What both uploaders check; `self.filename` is set by CKAN when a
    file comes with the request, `self.clear` when it asks to drop it."""

    def _check_stored(self, resource: dict[str, Any]) -> None:
        new_file = getattr(self, "filename", None)
        clear = getattr(self, "clear", None)
        if not (new_file or clear):
            return
        # CKAN 2.12 runs this inside package_update, after the checks of
        # our chained action: a stored resource's file stays as it is
        if _stored_url_type(resource.get("id")) is None:
            return
        _refuse(not_replaceable(resource["id"]) if new_file
                else not_removable(resource["id"]))

    def _note_size(self, resource: dict[str, Any]) -> None:
        """The size of a new file is the file's, whatever the request
        claims: the quota counts it until the jobs store the object."""
        if getattr(self, "filename", None) and hasattr(self, "filesize"):
            resource["size"] = self.filesize

    def _checked_path(self, path: str, resource_id: str) -> str:
        """`path` (CKAN's file of the resource), refused if it is a
        symlink that leads out of the depots."""
        if os.path.islink(path):
            target = os.path.realpath(path)
            depots = os.path.realpath(dcor_config.depots_path())
            if os.path.commonpath([target, depots]) != depots:
                _refuse(f"resource {resource_id} links outside the depots")
        return path

    def _refuse_existing(self, path: str, resource_id: str) -> None:
        if getattr(self, "filename", None) and os.path.lexists(path):
            _refuse(not_replaceable(resource_id))


class DepotResourceUpload(_DepotGuards, ResourceUpload):
    """Files below ckan.storage_path."""

    def __init__(self, resource: dict[str, Any]) -> None:
        super().__init__(resource)
        self._check_stored(resource)
        self._note_size(resource)

    def get_path(self, id: str) -> str:
        path = os.path.join(self.get_directory(id), id[6:])
        if os.path.islink(path):
            return self._checked_path(path, id)
        return super().get_path(id)

    def upload(self, id: str, max_size: int = 10) -> None:
        if not self.storage_path:
            return
        if not getattr(self, "filename", None):
            return  # CKAN would remove the file for a clear_upload
        self._refuse_existing(self.get_path(id), id)
        super().upload(id, max_size)


if FKResourceUpload is not None:
    class DepotStorageResourceUpload(_DepotGuards, FKResourceUpload):
        """Files in CKAN 2.12's resource storage (a file-system storage
        that follows symlinks, as ckan_storage.check_config demands)."""

        def __init__(self, resource: dict[str, Any]) -> None:
            super().__init__(resource)
            self._check_stored(resource)
            self._note_size(resource)

        def _full_path(self, id: str) -> str:
            return os.path.join(ckan_storage.resource_files_dir(), id[:3],
                                id[3:6], id[6:])

        def get_path(self, id: str):
            location = super().get_path(id)
            self._checked_path(self._full_path(id), id)
            return location

        def upload(self, id: str, max_size: int = 10) -> None:
            if not getattr(self, "filename", None):
                # the storage would remove the file, and it removes the
                # target of a symlink: the verified depot copy
                return
            self._refuse_existing(self._full_path(id), id)
            super().upload(id, max_size)
else:
    DepotStorageResourceUpload = None
