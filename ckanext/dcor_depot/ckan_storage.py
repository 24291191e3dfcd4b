"""Where CKAN keeps the resource files that the depot moves: below
`ckan.storage_path`, or, on CKAN 2.12, in its resource storage
(`ckan.files.storage.*`) where one is configured. The choice is CKAN's own
(as its `get_resource_uploader` makes it); the depot follows it, and
`check_config` refuses at start-up what the depot cannot work with.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import ckan.plugins.toolkit as tk
from ckan.exceptions import CkanConfigurationException

from .config import STORAGE_PATH, storage_path

log = logging.getLogger(__name__)

FILE_STORAGES = "ckan.files.storage."
RESOURCE_STORAGE_NAME = "ckan.files.default_storages.resource"
DEFAULT_STORAGE_NAME = "ckan.files.default_storages.default"


def resource_storage() -> Any:
    """CKAN 2.12's resource storage (file-keeper), or None where CKAN
    writes resource files below ckan.storage_path (CKAN 2.11, or no
    storage configured): the same choice as CKAN's get_resource_uploader."""
    try:
        from ckan.lib import files
    except ImportError:  # CKAN 2.11
        return None
    try:
        return files.get_storage(tk.config.get(RESOURCE_STORAGE_NAME))
    except files.exc.UnknownStorageError:
        return None


def resource_files_dir() -> str:
    """The folder in which CKAN keeps the file of resource `rid` at
    `{rid[:3]}/{rid[3:6]}/{rid[6:]}` (empty if there is none)."""
    storage = resource_storage()
    if storage is not None:
        return str(storage.settings.path)
    return os.path.join(storage_path(), "resources") if storage_path() \
        else ""


def _resource_storage_key(cfg: Mapping[str, Any], option: str) -> str:
    """The key that sets `option` of the resource storage: its own, or the
    default storage's where CKAN derives the resource storage from it."""
    name = str(cfg.get(RESOURCE_STORAGE_NAME) or "resources")
    if not any(str(key).startswith(f"{FILE_STORAGES}{name}.")
               for key in cfg):
        name = str(cfg.get(DEFAULT_STORAGE_NAME) or "default")
    return f"{FILE_STORAGES}{name}.{option}"


def check_config(cfg: Mapping[str, Any]) -> None:
    """The depot moves CKAN's resource files into the user depot and
    leaves a symlink in their place: they must be files on this machine's
    file system, in a storage that reads through symlinks and that serves
    nobody without CKAN's authorization."""
    storage = resource_storage()
    if storage is None:
        if not str(cfg.get(STORAGE_PATH) or ""):
            _fail(STORAGE_PATH, "is not set and no resource storage "
                  f"({FILE_STORAGES}resources.*) is configured: dcor_depot "
                  "needs CKAN's resource files on disk", "")
        return
    from file_keeper.default.adapters.fs import FsStorage

    settings = storage.settings
    if not isinstance(storage, FsStorage):
        _fail(_resource_storage_key(cfg, "type"),
              "the resource storage must be a file-system storage "
              "(ckan:fs): dcor_depot moves CKAN's resource files into the "
              "depot", getattr(settings, "type", type(storage).__name__))
    if getattr(settings, "public", False):
        _fail(_resource_storage_key(cfg, "public"),
              "the resource storage must not be public: it holds the files "
              "of private datasets", True)
    if not settings.follow_symlinks:
        _fail(_resource_storage_key(cfg, "follow_symlinks"),
              "must be true: dcor_depot leaves a symlink into the depot at "
              "CKAN's path of every resource file", False)
    if cfg.get(STORAGE_PATH):
        # CKAN's choice too, but an operator may expect the other one
        log.warning("resource files are written to CKAN's resource storage "
                    "%r at %s, not below %s", settings.name, settings.path,
                    STORAGE_PATH)


def _fail(key: str, problem: str, value: Any) -> None:
    raise CkanConfigurationException(f"{key}: {problem} (got {value!r})")
