"""Archives of a dataset or a selection: which members, in which layout,
checked before the first byte is sent.

Each member is a stored resource the user may read, at the path its
dataset's manifest gives it (`{dataset_name}/{resource_name}`), with its
recorded size, sha256 and CRC-32; its bytes come from the download
provider that holds them (a streamed S3 GET from an offset, or the local
file). Limits refuse a request whole (413), never by skipping files.
"""
from __future__ import annotations

import calendar
import dataclasses
import datetime
import logging
import queue
import threading
from typing import Any, Iterator

import ckan.plugins.toolkit as tk

from .. import config as dcor_config
from .. import manifest, naming
from . import archive_layout, archive_stream, manifests, providers

log = logging.getLogger(__name__)
COMPTYPES = archive_layout.COMPTYPES


class ArchiveRefused(Exception):
    """A request that gets no archive: an HTTP status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class IntegrityAbort(RuntimeError):
    """A member's bytes do not match its record: the stream is cut."""


@dataclasses.dataclass(frozen=True)
class Archive:
    name: str  # the file name, with its suffix
    layout: archive_layout.Layout
    sources: dict[str, tuple[dict, dict, Any]]  # key -> resource, dataset,
    #                                             provider
    last_modified: datetime.datetime


def _mtime(resource: dict[str, Any]) -> int:
    when = resource.get("last_modified") or resource.get("created")
    try:
        moment = datetime.datetime.fromisoformat(when)
    except (TypeError, ValueError):
        return 0
    return calendar.timegm(moment.utctimetuple())


def _readable(context: dict[str, Any], dataset_id: str) -> dict[str, Any]:
    try:
        return tk.get_action("package_show")(dict(context),
                                             {"id": dataset_id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        # unreadable is absent: the caller learns nothing of a dataset he
        # may not read, not even that it exists
        raise ArchiveRefused(404, f"no such dataset: {dataset_id}") from None


def selected(context: dict[str, Any], dataset_ids: list[str],
             resource_ids: list[str],
             within: str | None = None) -> list[tuple[dict, dict]]:
    """(resource, dataset) of the selection, in order: every stored
    resource of each dataset, then each named resource. With `within`,
    named resources must belong to that dataset."""
    chosen: dict[str, tuple[dict, dict]] = {}
    for dataset_id in dataset_ids:
        dataset = _readable(context, dataset_id)
        for resource in manifests.stored_resources(dataset):
            chosen.setdefault(resource["id"], (resource, dataset))
    for rid in resource_ids:
        try:
            resource = tk.get_action("resource_show")(dict(context),
                                                      {"id": rid})
        except (tk.ObjectNotFound, tk.NotAuthorized):
            raise ArchiveRefused(404, f"no such resource: {rid}") from None
        if within is not None and resource["package_id"] != within:
            raise ArchiveRefused(400, f"resource {rid} is not in dataset "
                                      f"{within}")
        dataset = _readable(context, resource["package_id"])
        stored = {r["id"]: r for r in manifests.stored_resources(dataset)}
        if rid not in stored:
            raise ArchiveRefused(400, f"resource {rid} is a link, not a file "
                                      "this site stores")
        chosen.setdefault(rid, (stored[rid], dataset))
    if not chosen:
        raise ArchiveRefused(400, "the selection holds no file")
    return list(chosen.values())


def _check_limits(count: int, total: int) -> None:
    max_files, max_bytes = dcor_config.archive_max_files(), \
        dcor_config.archive_max_bytes()
    hint = "; use the dcor-depot client for larger downloads"
    if count > max_files:
        raise ArchiveRefused(413, f"the archive would hold {count} files, "
                                  f"this site's limit is {max_files}{hint}")
    if max_bytes and total > max_bytes:
        raise ArchiveRefused(413, f"the archive would hold {total} bytes, "
                                  f"this site's limit is {max_bytes}{hint}")


def archive_name(name: str | None, fallback: str, comptype: str) -> str:
    """`{name}.{comptype}`: a name given (as MyTardis's expid) must be one
    safe file name of at most 100 characters, else ArchiveRefused."""
    if name is None:
        return f"{fallback}.{comptype}"
    stem = name[:-len(comptype) - 1] if name.endswith(f".{comptype}") \
        else name
    try:
        safe = naming.safe_name(stem, "archive name")
    except naming.UnsafeNameError:
        safe = None
    if safe != stem or len(stem) > 100:
        raise ArchiveRefused(400, f"not a safe archive name: {name!r}")
    return f"{stem}.{comptype}"


def build(selection: list[tuple[dict, dict]], comptype: str,
          name: str | None) -> Archive:
    """The archive of a selection, after every check that can be made
    before the first byte: limits, pending checksums, missing objects."""
    if comptype not in COMPTYPES:
        raise ArchiveRefused(400, f"comptype must be one of "
                                  f"{', '.join(COMPTYPES)}, not {comptype!r}")
    total = sum(resource.get("size") or 0 for resource, _ in selection)
    _check_limits(len(selection), total)
    by_dataset: dict[str, list[tuple[dict, dict]]] = {}
    for resource, dataset in selection:
        by_dataset.setdefault(dataset["id"], []).append((resource, dataset))
    members, sources = [], {}
    order = providers.archive_order()
    for pairs in by_dataset.values():
        dataset = pairs[0][1]
        paths = manifest.download_paths(
            dataset["name"], [(r["id"], r.get("name") or "") for r, _ in pairs])
        for path, (resource, _) in zip(paths, pairs):
            if not resource.get("sha256"):
                raise ArchiveRefused(409, f"resource {resource['id']} is "
                                          "still being processed (no sha256 "
                                          "yet); try again later")
            provider = providers.provider_for(resource, dataset, order)
            size = _size(provider, resource, dataset)
            members.append(archive_layout.Member(
                path=path, size=size, mtime=_mtime(resource),
                sha256=resource["sha256"], crc32=resource.get("crc32"),
                key=resource["id"]))
            sources[resource["id"]] = (resource, dataset, provider)
    layout = archive_layout.build(members, comptype)
    fallback = selection[0][1]["name"] if len(by_dataset) == 1 else "download"
    return Archive(archive_name(name, fallback, comptype), layout, sources,
                   datetime.datetime.fromtimestamp(
                       max(m.mtime for m in members), datetime.timezone.utc))


def _size(provider, resource: dict[str, Any], dataset: dict[str, Any]) -> int:
    """The member's size from its storage (a HEAD for S3), before the first
    byte: a missing object is found here, not mid-stream."""
    if provider is None:
        raise ArchiveRefused(409, f"resource {resource['id']} has no stored "
                                  "file to send")
    try:
        size = provider.size(resource, dataset)
    except (FileNotFoundError, OSError) as exc:
        raise ArchiveRefused(409, f"resource {resource['id']}: its file is "
                                  f"missing ({exc})") from None
    if resource.get("size") is not None and size != resource["size"]:
        raise ArchiveRefused(409, f"resource {resource['id']}: storage holds "
                                  f"{size} bytes, the resource records "
                                  f"{resource['size']}")
    return size


_DONE = object()


class ReadAhead:
    """A member's chunks read (and hashed) ahead by a thread: the next
    chunk comes from storage and is hashed while this one is sent, each
    step releasing the GIL, so the archive moves at the pace of the
    slowest step rather than of their sum."""

    def __init__(self, chunks: archive_stream.HashedChunks) -> None:
        self._hashed = chunks
        self._stream = prefetched(chunks)

    def __iter__(self) -> Iterator[bytes]:
        return self._stream

    def close(self) -> None:
        self._stream.close()

    def digests(self) -> tuple[str, int | None]:
        """Valid once every chunk was taken (the thread is done then)."""
        return self._hashed.digests()


def prefetched(chunks: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """`chunks`, read ahead by a thread, at most `depth` chunks ahead."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        ready.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as exc:  # handed over to the consumer
            ready.put(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def byte_stream(archive: Archive, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end] of the archive; a member that does not verify
    logs one integrity line and cuts the stream short (an exception, so
    that the web server closes the connection)."""
    def open_member(member: archive_layout.Member, offset: int):
        resource, dataset, provider = archive.sources[member.key]
        return ReadAhead(archive_stream.HashedChunks(
            provider.open(resource, dataset, offset),
            crc=archive.layout.comptype == "zip"))

    def integrity_error(member: archive_layout.Member, message: str) -> None:
        log.error("integrity error: resource %s (%s): %s; archive %s cut "
                  "short", member.key, member.path, message, archive.name)
        raise IntegrityAbort(message)

    return archive_stream.stream(archive.layout, start, end, open_member,
                                 integrity_error)
