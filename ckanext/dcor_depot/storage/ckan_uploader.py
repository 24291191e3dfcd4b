"""CKAN's resource uploader, aware of depot symlinks.

CKAN refuses a resource path that is a symlink, so without this every
update of a dataset whose files are in the depot would fail. Files of
existing uploads are immutable: a new file means a new resource, because
writing through the symlink would overwrite the verified depot copy.
"""
from __future__ import annotations

import os

import ckan.plugins.toolkit as tk
from ckan.lib.uploader import ResourceUpload

from .. import config as dcor_config


class DepotResourceUpload(ResourceUpload):
    def __init__(self, resource: dict) -> None:
        super().__init__(resource)
        if self.filename and resource.get("id"):
            # CKAN 2.12 runs this inside package_update, after the checks of
            # our chained action: a new file for a stored resource is
            # refused here
            from ckan import model

            stored = model.Session.get(model.Resource, resource["id"])
            if stored is not None and stored.url_type in ("upload",
                                                          "s3_upload"):
                raise tk.ValidationError({"upload": [
                    f"the file of resource {stored.id} cannot be replaced; "
                    "upload it as a new resource"]})

    def get_path(self, id: str) -> str:
        path = os.path.join(self.get_directory(id), id[6:])
        if os.path.islink(path):
            target = os.path.realpath(path)
            depots = os.path.realpath(dcor_config.depots_path())
            if os.path.commonpath([target, depots]) != depots:
                raise tk.ValidationError(
                    {"upload": [f"resource {id} links outside the depots"]})
            return path
        return super().get_path(id)

    def upload(self, id: str, max_size: int = 10) -> None:
        if self.filename and self.storage_path:
            path = self.get_path(id)
            if os.path.lexists(path):
                raise tk.ValidationError({"upload": [
                    f"the file of resource {id} cannot be replaced; "
                    "upload it as a new resource"]})
        super().upload(id, max_size)
