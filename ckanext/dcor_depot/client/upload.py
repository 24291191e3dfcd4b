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
import xml.sax.saxutils
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from .. import manifest
from .api import TIMEOUT, Api, make_session
from .errors import ClientError, Interrupted, NotFound
from .folder import CHUNK, check_folder, tracked_files
from .progress import Progress

log = logging.getLogger(__name__)

PART_ATTEMPTS = 5


class UploadFailed(ClientError):
    """One file could not be uploaded."""


@dataclasses.dataclass
class LocalFile:
    name: str
    path: pathlib.Path
    size: int
    sha256: str | None = None


@dataclasses.dataclass
class UploadReport:
    dataset: str
    dataset_id: str
    uploaded: list[str]
    skipped: list[str]
    transferred_bytes: int

    def summary(self) -> str:
        return (f"{self.dataset}: {len(self.uploaded)} uploaded, "
                f"{len(self.skipped)} already stored, "
                f"{self.transferred_bytes} bytes transferred; the dataset "
                "is active")


class PartBody:
    """The bytes of one part, read once from the file as requests sends
    them, feeding the file's sha256 and the part's MD5."""

    def __init__(self, path: pathlib.Path, offset: int, length: int,
                 sha256, cancel: threading.Event, progress: Progress):
        self._handle = open(path, "rb")
        self._handle.seek(offset)
        self._left = length
        self.length = length
        self.sha256 = sha256
        self.md5 = hashlib.md5(usedforsecurity=False)
        self._cancel = cancel
        self._progress = progress
        self.sent = 0

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        if self._cancel.is_set():
            raise KeyboardInterrupt
        if size is None or size < 0:
            size = self._left
        chunk = self._handle.read(min(size, self._left, CHUNK))
        if self._left and not chunk:
            raise UploadFailed(f"{self._handle.name} became shorter while "
                               "it was uploaded")
        self._left -= len(chunk)
        self.sha256.update(chunk)
        self.md5.update(chunk)
        self.sent += len(chunk)
        self._progress.add_bytes(len(chunk))
        return chunk

    def close(self) -> None:
        self._handle.close()


class Uploader:
    def __init__(self, api: Api, jobs: int = 4,
                 progress: bool | None = None):
        if jobs < 1:
            raise ClientError(f"--jobs must be at least 1, not {jobs}")
        self.api = api
        self.jobs = jobs
        self.progress_enabled = progress
        self.cancel = threading.Event()
        # presigned URLs: no token, no automatic retries (a body that was
        # partly read cannot be replayed; parts are retried below)
        self.s3_session = make_session(pool_size=max(16, jobs), retries=0)
        self._lock = threading.Lock()
        self.transferred = 0

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
        files = []
        for name in names:
            path = folder / name
            size = path.stat().st_size
            if size == 0:
                raise ClientError(f"{path} is empty; the site stores no "
                                  "empty files")
            files.append(LocalFile(name, path, size, known_sha256.get(name)))
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
        sha256, etag = _local_digests(local.path, stored_etag)
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
        sha256 = self._send(local, urls, progress)
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

    def _send(self, local: LocalFile, urls: dict[str, Any],
              progress: Progress) -> str:
        part_urls = urls["upload_urls"]
        part_size = int(urls["part_size"])
        sha256 = hashlib.sha256()
        etags = []
        for number, url in enumerate(part_urls, start=1):
            offset = (number - 1) * part_size
            length = min(part_size, local.size - offset)
            if length <= 0:
                raise UploadFailed(f"the site's plan for {local.name} has "
                                   "more parts than the file")
            before = sha256.copy()
            for attempt in range(1, PART_ATTEMPTS + 1):
                body = PartBody(local.path, offset, length, before.copy(),
                                self.cancel, progress)
                try:
                    etag = self._put(url, body)
                except (UploadFailed, requests.RequestException) as exc:
                    progress.add_bytes(-body.sent)
                    if attempt == PART_ATTEMPTS:
                        raise UploadFailed(f"part {number} of {local.name}: "
                                           f"{_one_line(exc)}") from None
                    log.warning("part %d of %s failed (attempt %d): %s",
                                number, local.name, attempt, _one_line(exc))
                    continue
                finally:
                    body.close()
                break
            sha256 = body.sha256
            with self._lock:
                self.transferred += length
            etags.append(etag)
        if urls.get("complete_url"):
            self._complete(urls["complete_url"], etags)
        return sha256.hexdigest()

    def _put(self, url: str, body: PartBody) -> str:
        response = self.s3_session.put(url, data=body, timeout=TIMEOUT,
                                       headers={"Content-Length":
                                                str(len(body))})
        if response.status_code != 200:
            raise UploadFailed(f"S3 answered HTTP {response.status_code}: "
                               f"{response.text[:200]}")
        etag = response.headers.get("ETag", "").strip('"')
        if etag != body.md5.hexdigest():
            raise UploadFailed(f"S3 stored bytes with MD5 {etag}, "
                               f"{body.md5.hexdigest()} were sent")
        return etag

    def _complete(self, url: str, etags: list[str]) -> None:
        xml_body = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>"
            f"{xml.sax.saxutils.escape(etag)}</ETag></Part>"
            for number, etag in enumerate(etags, start=1)) + \
            "</CompleteMultipartUpload>"
        response = self.s3_session.post(url, data=xml_body.encode(),
                                        timeout=TIMEOUT)
        # S3 may answer 200 with an error in the body
        if response.status_code != 200 or "<Error>" in response.text:
            raise UploadFailed(f"completing the multipart upload failed: "
                               f"HTTP {response.status_code} "
                               f"{response.text[:200]}")

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


def _local_digests(path: pathlib.Path, etag: str) -> tuple[str, str]:
    """sha256 and the S3 ETag of a file in one pass; the ETag with the part
    layout the stored ETag shows (`{md5}-{parts}`: equal parts, the last
    one shorter, as resource_upload_s3_urls plans them)."""
    size = path.stat().st_size
    parts = int(etag.rsplit("-", 1)[1]) if "-" in etag else 1
    part_size = max(1, -(-size // parts))
    sha256 = hashlib.sha256()
    md5s = []
    with open(path, "rb") as handle:
        for _ in range(parts):
            md5 = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left and (chunk := handle.read(min(CHUNK, left))):
                sha256.update(chunk)
                md5.update(chunk)
                left -= len(chunk)
            md5s.append(md5)
    if parts == 1:
        return sha256.hexdigest(), md5s[0].hexdigest()
    joined = hashlib.md5(b"".join(m.digest() for m in md5s),
                         usedforsecurity=False)
    return sha256.hexdigest(), f"{joined.hexdigest()}-{parts}"


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
