"""`dcor-depot upload`: a folder into a new dataset of a circle.

1. If DIR/MANIFEST.sha256 exists, the folder must match it exactly before
   anything is created.
2. The dataset is created as a draft, or the draft of an earlier run is
   found again by its name.
3. Each file goes up through the presigned URLs of
   `resource_upload_s3_urls` in one pass over it: its sha256, and the MD5
   of every part, are computed from the bytes as they are sent. S3
   answers each PUT with the ETag of the bytes it stored (their MD5),
   which must equal the MD5 of the bytes sent, else the part is sent
   again. Then the resource is created with the issued id; the site checks
   the object's size (and its backup job, the ETag of every byte).
4. The manifest goes up last, as the resource MANIFEST.sha256; only then
   is the dataset made active, which marks it complete.

A re-run skips every file that a resource of the same name already holds:
compared by sha256 once the site has set it, else by size and the ETag
(the MD5 layout of the upload's parts), computed locally without
transferring anything.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pathlib
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import manifest
from . import part_upload
from .api import Api, make_session
from .errors import ClientError, Interrupted, NotFound, UploadFailed
from .folder import check_folder, tracked_files
from .local_names import dataset_names, renamed_note
from .progress import Progress
from .reports import UploadReport

log = logging.getLogger(__name__)

@dataclasses.dataclass
class LocalFile:
    name: str            # its name in the dataset (local_names)
    path: pathlib.Path
    size: int
    sha256: str | None = None


class Uploader:
    def __init__(self, api: Api, jobs: int = 4,
                 progress: bool | None = None):
        if jobs < 1:
            raise ClientError(f"--jobs must be at least 1, not {jobs}")
        self.api = api
        self.jobs = jobs
        self.progress_enabled = progress
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self.transferred = 0
        self.transfer = part_upload.PresignedUpload(
            make_session(pool_size=max(16, jobs), retries=0), self.cancel,
            self._count_stored)

    def _count_stored(self, length: int) -> None:
        with self._lock:
            self.transferred += length

    def upload(self, circle: str, name: str, folder: os.PathLike | str,
               title: str | None = None, private: bool = True
               ) -> UploadReport:
        files = self._local_files(pathlib.Path(folder))
        circle_id = self._circle_id(circle)
        dataset = self._draft(circle_id, name, title, private)
        stored = {r.get("name"): r for r in dataset.get("resources", [])}
        extra = sorted(set(stored) - {f.name for f in files}
                       - {manifest.MANIFEST_NAME})
        if extra:
            raise ClientError(f"the draft dataset {name} holds {extra[0]}, "
                              f"which {folder} does not have; the manifest "
                              "would not cover it")
        uploaded, skipped = [], []
        todo = []
        for local in files:
            if local.name in stored:
                self._check_stored(local, stored[local.name])
                skipped.append(local.name)
                log.info("already stored: %s", local.name)
            else:
                todo.append(local)
        progress = Progress("upload", sum(f.size for f in todo), len(todo),
                            self.progress_enabled)
        try:
            for local in self._run_all(circle_id, dataset["id"], todo,
                                       progress):
                uploaded.append(local.name)
        finally:
            progress.close()
        manifest_text = manifest.manifest_text(sorted(
            ((f.sha256 or "", f.name) for f in files), key=lambda e: e[1]))
        self._upload_manifest(circle_id, dataset["id"], manifest_text,
                              stored)
        self.api.post("package_patch", id=dataset["id"], state="active")
        log.info("dataset %s is active", name)
        return UploadReport(name, dataset["id"], uploaded, skipped,
                            self.transferred)

    # before anything is created

    def _local_files(self, folder: pathlib.Path) -> list[LocalFile]:
        if not folder.is_dir():
            raise ClientError(f"{folder} is not a folder")
        known_sha256 = {}
        if (folder / manifest.MANIFEST_NAME).exists():
            check = check_folder(folder)
            if not check.ok:
                problems = check.problems()
                more = f" (and {len(problems) - 1} more)" \
                    if len(problems) > 1 else ""
                raise ClientError(f"{folder} does not match its "
                                  f"{manifest.MANIFEST_NAME}: "
                                  f"{problems[0]}{more}; nothing uploaded")
            known_sha256 = check.sha256
        names = tracked_files(folder)
        nested = [n for n in names if "/" in n]
        if nested:
            raise ClientError(f"{folder / nested[0]} is in a sub-folder; a "
                              "DCOR dataset is a flat list of files")
        if not names:
            raise ClientError(f"{folder} holds no files to upload")
        stored_as = dataset_names(names, folder)
        files = []
        for name in names:
            path = folder / name
            size = path.stat().st_size
            if size == 0:
                raise ClientError(f"{path} is empty; the site stores no "
                                  "empty files")
            files.append(LocalFile(stored_as[name], path, size,
                                   known_sha256.get(name)))
        for name, clean in stored_as.items():
            if clean != name:
                log.warning(renamed_note(name, clean))
        return files

    def _circle_id(self, circle: str) -> str:
        try:
            return self.api.get("organization_show", id=circle,
                                include_datasets=False)["id"]
        except NotFound:
            raise NotFound(f"no such circle: {circle}") from None

    def _draft(self, circle_id: str, name: str, title: str | None,
               private: bool) -> dict[str, Any]:
        try:
            dataset = self.api.get("package_show", id=name)
        except NotFound:
            dataset = None
        if dataset is not None:
            if dataset["state"] == "active" and not dataset.get("resources") \
                    and dataset.get("owner_org") == circle_id:
                # a run killed between package_create (which makes it
                # active on sites that ignore `state`) and the step back
                # to draft: a dataset without files is no complete one
                log.info("taking the empty dataset %s back to draft", name)
                dataset = self.api.post("package_patch", id=dataset["id"],
                                        state="draft")
            if dataset["state"] == "active":
                raise ClientError(
                    f"dataset {name} already exists and is active "
                    "(complete); DCOR datasets are immutable: choose "
                    "another name")
            if dataset["state"] != "draft":
                raise ClientError(f"the name {name} is taken by a "
                                  f"{dataset['state']} dataset")
            if dataset.get("owner_org") != circle_id:
                raise ClientError(f"the draft dataset {name} belongs to "
                                  "another circle")
            log.info("continuing the draft dataset %s", name)
            return dataset
        dataset = self.api.post(
            "package_create", name=name, title=title or name,
            owner_org=circle_id, private=private, state="draft")
        if dataset["state"] != "draft":
            # a site that ignores `state` on create: back to draft at once
            dataset = self.api.post("package_patch", id=dataset["id"],
                                    state="draft")
        log.info("created the draft dataset %s", name)
        return dataset

    def _check_stored(self, local: LocalFile, resource: dict) -> None:
        """A file the draft already holds must be the same bytes."""
        stored_sha256 = resource.get("sha256")
        stored_etag = (resource.get("etag") or "").strip('"')
        if resource.get("size") not in (None, "") and \
                int(resource["size"]) != local.size:
            raise ClientError(f"the draft's {local.name} has "
                              f"{resource['size']} bytes, the local file "
                              f"{local.size}: resources are immutable")
        sha256, etag = part_upload.stored_digests(local.path, stored_etag)
        local.sha256 = sha256
        if stored_sha256:
            same = stored_sha256 == sha256
        elif stored_etag:
            same = stored_etag == etag
        else:
            raise ClientError(f"the draft's {local.name} has neither sha256 "
                              "nor etag to compare with")
        if not same:
            raise ClientError(f"the draft's {local.name} holds other bytes "
                              "than the local file: resources are "
                              "immutable")

    # the transfers

    def _run_all(self, circle_id: str, dataset_id: str,
                 files: list[LocalFile], progress: Progress):
        pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="upload")
        futures = [pool.submit(self.upload_file, circle_id, dataset_id,
                               local, progress) for local in files]
        try:
            for future in futures:
                yield future.result()
        except KeyboardInterrupt:
            self.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise Interrupted("interrupted: the dataset stays a draft; a "
                              "re-run continues it") from None
        except BaseException:
            self.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()

    def upload_file(self, circle_id: str, dataset_id: str, local: LocalFile,
                    progress: Progress, name: str | None = None) -> LocalFile:
        urls = self.api.get("resource_upload_s3_urls",
                            organization_id=circle_id, file_size=local.size)
        sha256 = self.transfer.send(local.path, local.size, local.name,
                                    urls, progress)
        if local.sha256 and local.sha256 != sha256:
            raise UploadFailed(f"{local.path} changed after it was checked "
                               "against the manifest")
        local.sha256 = sha256
        self.api.post("resource_create", package_id=dataset_id,
                      id=urls["resource_id"], name=name or local.name,
                      url=name or local.name, url_type="s3_upload")
        progress.file_done()
        log.info("uploaded %s (%d bytes, sha256 %s)", local.name, local.size,
                 sha256)
        return local

    def _upload_manifest(self, circle_id, dataset_id, text, stored):
        data = text.encode("utf-8")
        existing = stored.get(manifest.MANIFEST_NAME)
        if existing is not None:
            digest = hashlib.sha256(data).hexdigest()
            etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
            if existing.get("sha256") == digest or (
                    not existing.get("sha256")
                    and (existing.get("etag") or "").strip('"') == etag):
                log.info("already stored: %s", manifest.MANIFEST_NAME)
                return
            raise ClientError(f"the draft's {manifest.MANIFEST_NAME} lists "
                              "other files than this folder")
        # the manifest as a file of its own, sent through the same route
        handle, temp_name = tempfile.mkstemp(prefix="dcor-depot-manifest-")
        temp = pathlib.Path(temp_name)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        try:
            local = LocalFile(manifest.MANIFEST_NAME, temp, len(data))
            progress = Progress("manifest", len(data), 1, False)
            self.upload_file(circle_id, dataset_id, local, progress,
                             name=manifest.MANIFEST_NAME)
        finally:
            temp.unlink(missing_ok=True)
