"""`dcor-depot download`: a dataset into TARGET/{dataset}/, driven and
verified by the site's manifest (the `dataset_manifest` action).

Every file is written to `{name}.part` and hashed while it is written; it
gets its final name only if size and sha256 match the manifest, so a final
name never holds wrong bytes. A `.part` left by a broken run is hashed and
resumed with `Range`; a server that answers 200 instead of 206 sent the
whole file, which then replaces the `.part` from its start.

The bytes hashed are the bytes on the disk, without reading them again:
one run at a time writes into a dataset's folder (folder_lock), one
thread writes each .part (names that would share one are refused,
remote_manifest), a resumed .part's prefix is hashed from the disk, and
the .part is synced and checked to be still the file written before it
is renamed (part_file).
"""
from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from .. import manifest
from . import folder_lock
from .api import TIMEOUT, Api, make_session
from .errors import ClientError, Interrupted, one_line
from .folder import (CHUNK, file_sha256, prefix_sha256,
                     write_text_atomically)
from .part_file import PartFile, still_written_file
from .progress import Progress
from .remote_manifest import Entry, manifest_entries
from .reports import DownloadReport, FileResult

log = logging.getLogger(__name__)

# A download that breaks off is resumed from the .part this many times.
STREAM_ATTEMPTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


class FileFailed(Exception):
    """One file could not be downloaded (one-line reason)."""


class Downloader:
    def __init__(self, api: Api, jobs: int = 4,
                 progress: bool | None = None):
        if jobs < 1:
            raise ClientError(f"--jobs must be at least 1, not {jobs}")
        self.api = api
        self.jobs = jobs
        self.progress_enabled = progress
        self.cancel = threading.Event()
        # presigned S3 URLs carry their own signature: no token there
        self.s3_session = make_session(pool_size=max(16, jobs))

    def download(self, dataset: str, target: os.PathLike | str,
                 partial: bool = False) -> DownloadReport:
        target = pathlib.Path(target)
        if target.exists() and not target.is_dir():
            raise ClientError(f"target {target} exists and is not a folder")
        result = self.api.get("dataset_manifest", id=dataset)
        folder_name, entries = manifest_entries(result, target,
                                                 self.api.site)
        pending = [e.path for e in entries if not e.sha256]
        if pending and not partial:
            raise ClientError(
                f"dataset {dataset} is not complete: {len(pending)} of "
                f"{len(entries)} files have no sha256 yet (the site is still "
                "processing them); --partial fetches the others")
        wanted = [e for e in entries if e.sha256]
        folder = target / folder_name
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClientError(f"cannot create {folder}: "
                              f"{exc.strerror or exc}") from None
        progress = Progress("download", sum(e.size for e in wanted),
                            len(wanted), self.progress_enabled)
        with folder_lock.exclusive(folder):
            try:
                results = self._run_all(wanted, progress)
            finally:
                progress.close()
            report = DownloadReport(result["dataset"], folder, results,
                                    pending)
            if report.ok and not pending:
                try:
                    self._write_manifest(folder, wanted)
                except OSError as exc:
                    raise ClientError(f"cannot write {folder}/"
                                      f"{manifest.MANIFEST_NAME}: "
                                      f"{exc.strerror or exc}") from None
        return report

    def _run_all(self, entries: list[Entry], progress: Progress
                 ) -> list[FileResult]:
        pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="download")
        futures = [pool.submit(self.fetch_file, entry, progress)
                   for entry in entries]
        try:
            results = [future.result() for future in futures]
        except KeyboardInterrupt:
            self.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise Interrupted("interrupted: stopped the downloads; the "
                              ".part files are kept and a re-run resumes "
                              "them") from None
        pool.shutdown()
        return results

    def _write_manifest(self, folder: pathlib.Path, entries: list[Entry]
                        ) -> None:
        """`sha256sum -c` in the dataset's folder checks every file. A
        dataset uploaded with its own MANIFEST.sha256 brought that one
        (verified like any file); it must agree with the site's."""
        lines = sorted((e.sha256, e.path.split("/", 1)[1]) for e in entries
                       if e.path.split("/", 1)[1] != manifest.MANIFEST_NAME)
        own = folder / manifest.MANIFEST_NAME
        if any(e.path.split("/", 1)[1] == manifest.MANIFEST_NAME
               for e in entries):
            try:
                theirs = manifest.parse_manifest(own.read_text("utf-8"))
            except (manifest.BadManifest, UnicodeDecodeError) as exc:
                raise ClientError(f"the dataset's {manifest.MANIFEST_NAME} "
                                  f"is not a manifest: {exc}") from None
            if sorted(theirs, key=lambda e: e[1]) != sorted(
                    lines, key=lambda e: e[1]):
                raise ClientError(f"the dataset's {manifest.MANIFEST_NAME} "
                                  "does not match the site's checksums")
            return
        write_text_atomically(own, manifest.manifest_text(
            sorted(lines, key=lambda e: e[1])))

    # one file

    def fetch_file(self, entry: Entry, progress: Progress) -> FileResult:
        try:
            result = self._fetch_file(entry, progress)
        except FileFailed as exc:
            # the CLI says it on stderr, once; the log file gets it too
            log.info("failed: %s: %s", entry.path, exc)
            return FileResult(entry.path, "failed", error=str(exc))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            log.info("failed: %s: %s", entry.path, reason)
            return FileResult(entry.path, "failed", error=reason)
        except Exception as exc:  # one file's surprise fails that file only
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            log.info("failed: %s: %s", entry.path, reason, exc_info=True)
            return FileResult(entry.path, "failed", error=reason)
        progress.file_done()
        return result

    def _fetch_file(self, entry: Entry, progress: Progress) -> FileResult:
        if entry.local.is_file() and entry.local.stat().st_size == entry.size:
            if file_sha256(entry.local, self.cancel) == entry.sha256:
                log.info("already present: %s", entry.path)
                progress.add_bytes(entry.size)
                return FileResult(entry.path, "skipped")
            log.info("differs from the manifest, fetching again: %s",
                     entry.path)
        elif entry.local.exists() and not entry.local.is_file():
            raise FileFailed(f"{entry.local} exists and is not a file")
        part = entry.local.with_name(entry.local.name + ".part")
        digest = hashlib.sha256()
        offset = 0
        if part.is_file():
            offset = part.stat().st_size
            if offset > entry.size:
                offset = 0
            else:
                digest = prefix_sha256(part, offset, self.cancel)
                log.info("resuming %s at %d bytes", entry.path, offset)
        resumed_at = offset
        progress.add_bytes(offset)
        fetched = 0
        with open(part, "r+b" if part.exists() else "w+b") as handle:
            handle.truncate(offset)
            handle.seek(offset)
            writer = PartFile(handle)
            for attempt in range(1, STREAM_ATTEMPTS + 1):
                if offset == entry.size:
                    break
                try:
                    got, offset, digest = self._stream(
                        entry, writer, offset, digest, progress)
                    fetched += got
                except _StreamBroken as exc:
                    fetched += exc.got
                    offset, digest = exc.offset, exc.digest
                    log.warning("download of %s broke off at %d bytes "
                                "(attempt %d): %s", entry.path, offset,
                                attempt, exc.reason)
            written = writer.sync()
        if offset != entry.size:
            raise FileFailed(f"got {offset} of {entry.size} bytes")
        if digest.hexdigest() != entry.sha256:
            part.unlink()
            raise FileFailed(f"sha256 {digest.hexdigest()} does not match "
                             f"the manifest's {entry.sha256}; removed the "
                             ".part")
        if not still_written_file(part, written, entry.size):
            raise FileFailed(f"{part.name} was replaced, removed or cut by "
                             "another program while it was written; run "
                             "the download again")
        os.replace(part, entry.local)
        log.info("fetched %s: %d bytes transferred (resumed at %d)",
                 entry.path, fetched, resumed_at)
        return FileResult(entry.path, "fetched", fetched, resumed_at)

    def _open(self, entry: Entry, offset: int) -> requests.Response:
        """GET the resource's download route (with the token) and follow a
        redirect to S3 (without it: a presigned URL has its own)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            response = self.api.session.get(
                entry.url, headers={**headers, **self.api.auth_headers},
                allow_redirects=False, stream=True, timeout=TIMEOUT)
            hops = 0
            while response.status_code in REDIRECTS and hops < 5:
                location = response.headers["Location"]
                response.close()
                response = self.s3_session.get(
                    requests.compat.urljoin(response.url, location),
                    headers=headers, allow_redirects=False, stream=True,
                    timeout=TIMEOUT)
                hops += 1
        except requests.RequestException as exc:
            raise FileFailed(f"cannot download {entry.url}: "
                             f"{one_line(exc)}") from None
        return response

    def _stream(self, entry: Entry, writer: PartFile, offset: int, digest,
                progress: Progress):
        response = self._open(entry, offset)
        with response:
            if offset and response.status_code == 200:
                # the server ignored the Range: it sends the whole file
                log.info("the server ignored Range for %s: fetching it "
                         "from the start", entry.path)
                progress.add_bytes(-offset)
                offset, digest = 0, hashlib.sha256()
                writer.restart()
            elif offset and response.status_code == 206:
                start = _content_range_start(response)
                if start != offset:
                    raise FileFailed(f"asked for bytes from {offset}, the "
                                     f"server sent them from {start}")
            elif response.status_code != 200:
                raise FileFailed(f"HTTP {response.status_code} for "
                                 f"{entry.url}")
            got = 0
            try:
                for chunk in response.iter_content(CHUNK):
                    if self.cancel.is_set():
                        raise KeyboardInterrupt
                    if offset + len(chunk) > entry.size:
                        raise FileFailed(f"the server sent more than "
                                         f"{entry.size} bytes")
                    writer.write(chunk)
                    digest.update(chunk)
                    offset += len(chunk)
                    got += len(chunk)
                    progress.add_bytes(len(chunk))
            except requests.RequestException as exc:
                raise _StreamBroken(got, offset, digest,
                                    one_line(exc)) from None
            if offset < entry.size:
                raise _StreamBroken(got, offset, digest,
                                    "the response ended early")
        return got, offset, digest


class _StreamBroken(Exception):
    def __init__(self, got, offset, digest, reason):
        super().__init__(reason)
        self.got, self.offset, self.digest, self.reason = \
            got, offset, digest, reason


def _content_range_start(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None
