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
import hashlib
import logging
import queue
import threading
import uuid
import zlib
from typing import Any, Callable, Iterable, Iterator

import ckan.plugins.toolkit as tk

from .. import audit
from .. import config as dcor_config
from .. import resource_state
from .. import manifest, naming
from ..fixity import rules as fixity_rules
from ..fixity import store as fixity_store
from ..audit import rules as audit_rules
from ..audit import store as audit_store
from ..metrics import counters as metrics
from ..storage import s3
from ..storage.digest import Digester
from ..workflows import visibility
from . import (archive_layout, archive_stream, bagit_layout, ckan_compat,
               manifests, providers, selection)

log = logging.getLogger(__name__)
COMPTYPES = archive_layout.COMPTYPES
LAYOUTS = ("plain", "bagit")  # members at manifest paths, or one bag each


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
    # key -> opener(offset) for members that are no resource: a bag's tag
    # files and dataset.json (bytes made here), condensed objects
    other_sources: dict[str, Callable[[int], Iterable[bytes]]] = \
        dataclasses.field(default_factory=dict)


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
             within: str | None = None,
             urls: tuple[selection.DownloadURL, ...] = ()
             ) -> list[tuple[dict, dict]]:
    """(resource, dataset) of the selection, in order: every stored
    resource of each dataset, then each named resource, then each resource
    of a download URL. With `within`, named resources must belong to that
    dataset; with URLs, `dataset_ids` only limit the URLs (as MyTardis's
    expid does) and add no resources of their own."""
    datasets: dict[str, dict[str, Any]] = {}  # by id and by name

    def dataset_of(ref: str) -> dict[str, Any]:
        if ref not in datasets:
            dataset = _readable(context, ref)
            datasets[dataset["id"]] = datasets[dataset["name"]] = \
                datasets[ref] = dataset
        return datasets[ref]

    chosen: dict[str, tuple[dict, dict]] = {}
    limits = {dataset_of(ref)["id"] for ref in dataset_ids} if urls else None
    for dataset_id in [] if urls else dataset_ids:
        dataset = dataset_of(dataset_id)
        for resource in manifests.stored_resources(dataset):
            chosen.setdefault(resource["id"], (resource, dataset))
    named = [(rid, None) for rid in resource_ids] + \
        [(url.resource, url) for url in urls]
    for rid, url in named:
        try:
            resource = tk.get_action("resource_show")(dict(context),
                                                      {"id": rid})
        except (tk.ObjectNotFound, tk.NotAuthorized):
            raise ArchiveRefused(404, f"no such resource: {rid}") from None
        if within is not None and resource["package_id"] != within:
            raise ArchiveRefused(400, f"resource {rid} is not in dataset "
                                      f"{within}")
        dataset = dataset_of(resource["package_id"])
        if url is not None and url.dataset not in (dataset["id"],
                                                   dataset["name"]):
            raise ArchiveRefused(400, f"resource {rid} is not in dataset "
                                      f"{url.dataset} (its download URL "
                                      f"says so)")
        if limits and dataset["id"] not in limits:
            raise ArchiveRefused(400, f"resource {rid} (a download URL) is "
                                      f"not in the dataset given: "
                                      f"{', '.join(dataset_ids)}")
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
          name: str | None, layout: str = "plain") -> Archive:
    """The archive of a selection, after every check that can be made
    before the first byte: limits, pending checksums, missing objects."""
    if comptype not in COMPTYPES:
        raise ArchiveRefused(400, f"comptype must be one of "
                                  f"{', '.join(COMPTYPES)}, not {comptype!r}")
    if layout not in LAYOUTS:
        raise ArchiveRefused(400, f"layout must be one of "
                                  f"{', '.join(LAYOUTS)}, not {layout!r}")
    marked = fixity_store.failed_among(r["id"] for r, _ in selection)
    if marked:
        raise ArchiveRefused(409, fixity_rules.refusal(
            next(r["id"] for r, _ in selection if r["id"] in marked)))
    if layout == "bagit":
        return build_bags(selection, comptype, name)
    total = sum(resource.get("size") or 0 for resource, _ in selection)
    _check_limits(len(selection), total)
    by_dataset: dict[str, list[tuple[dict, dict]]] = {}
    for resource, dataset in selection:
        by_dataset.setdefault(dataset["id"], []).append((resource, dataset))
    members, sources = [], {}
    order = providers.archive_order()
    for pairs in by_dataset.values():
        # the manifest's paths, decided over all of the dataset's files:
        # any selection of them, in any order, gets the same names
        paths = manifests.paths_by_id(pairs[0][1])
        for resource, dataset in pairs:
            path = paths[resource["id"]]
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


def _resource_member(path: str, resource: dict[str, Any],
                     dataset: dict[str, Any], order: list[str]):
    """The member of a stored resource and its provider, checked."""
    if not resource.get("sha256"):
        raise ArchiveRefused(409, f"resource {resource['id']} is still being "
                                  "processed (no sha256 yet); try again "
                                  "later")
    provider = providers.provider_for(resource, dataset, order)
    size = _size(provider, resource, dataset)
    return archive_layout.Member(
        path=path, size=size, mtime=_mtime(resource),
        sha256=resource["sha256"], crc32=resource.get("crc32"),
        key=resource["id"]), provider


def _dataset_mtime(dataset: dict[str, Any]) -> int:
    return _mtime({"last_modified": dataset.get("metadata_modified")})


def _literal(data: bytes) -> Callable[[int], Iterable[bytes]]:
    return lambda offset: (data[offset:],)


def condensed_object(resource: dict[str, Any], dataset: dict[str, Any],
                     crc32: bool):
    """(bucket, key, size, sha256, crc32) of the resource's condensed
    object, None where the object store has none. The sha256 is the one
    recorded on the object; where none is (or a zip needs the CRC-32 for
    its headers), the object is read once here, before the first byte."""
    if not dcor_config.s3_enabled():
        return None
    current, _ = visibility.locations(resource, dataset.get("owner_org"),
                                      "condensed")
    if current is None:  # no circle and no recorded bucket
        return None
    bucket, key = current
    client = s3.get_client()
    head = s3.object_head(client, bucket, key)
    if head is None:
        return None
    sha256 = (head.get("Metadata") or {}).get(s3.SHA256_TAG)
    crc = None
    if not sha256 or crc32:
        digester = Digester(crc32=crc32)
        for chunk in s3.object_stream(client, bucket, key):
            digester.update(chunk)
        digests = digester.result()
        if digests.size != head["ContentLength"] or (
                sha256 and digests.sha256 != sha256):
            raise ArchiveRefused(409, f"resource {resource['id']}: its "
                                      "condensed object does not match its "
                                      "record")
        sha256, crc = digests.sha256, digests.crc32
    return bucket, key, head["ContentLength"], sha256, crc


def build_bags(selection: list[tuple[dict, dict]], comptype: str,
               name: str | None) -> Archive:
    """One BagIt bag per dataset of the selection, in dataset order (see
    bagit_layout): the resources at their manifest names, their condensed
    objects, data/dataset.json and the tag files, all known before the
    first byte."""
    total = sum(resource.get("size") or 0 for resource, _ in selection)
    _check_limits(len(selection), total)
    by_dataset: dict[str, list[tuple[dict, dict]]] = {}
    for resource, dataset in selection:
        by_dataset.setdefault(dataset["id"], []).append((resource, dataset))
    members, sources, other_sources = [], {}, {}
    order = providers.archive_order()
    site_title = tk.config.get("ckan.site_title") or ""
    for index, pairs in enumerate(by_dataset.values(), start=1):
        dataset = pairs[0][1]
        folder = bagit_layout.bag_folder(index, len(by_dataset),
                                         dataset["name"])
        # the manifest's names, over all stored resources of the dataset
        stored = manifests.stored_resources(dataset)
        paths = manifest.download_paths(
            dataset["name"], [(r["id"], r.get("name") or "") for r in stored])
        manifest_names = {r["id"]: path.split("/", 1)[1]
                          for r, path in zip(stored, paths)}
        chosen = [resource for resource, _ in pairs]
        condensed = {}
        for resource in chosen:
            found = condensed_object(resource, dataset, comptype == "zip")
            if found is not None:
                condensed[resource["id"]] = found
        names, condensed_names = bagit_layout.payload_names(
            [(r["id"], manifest_names[r["id"]]) for r in chosen],
            [r["id"] for r in chosen if r["id"] in condensed])
        payload: list[bagit_layout.PayloadFile] = []
        bag_members = []
        for resource in chosen:
            member, provider = _resource_member(
                f"{folder}/data/{names[resource['id']]}", resource, dataset,
                order)
            bag_members.append(member)
            sources[resource["id"]] = (resource, dataset, provider)
            payload.append(bagit_layout.PayloadFile(
                names[resource["id"]], member.size, member.sha256))
            if resource["id"] in condensed:
                bucket, key, size, sha256, crc = condensed[resource["id"]]
                cname = condensed_names[resource["id"]]
                member_key = f"{key}@{bucket}"
                bag_members.append(archive_layout.Member(
                    path=f"{folder}/data/{cname}", size=size,
                    mtime=member.mtime, sha256=sha256, crc32=crc,
                    key=member_key))
                other_sources[member_key] = (
                    lambda offset, b=bucket, k=key:
                    s3.object_stream(s3.get_client(), b, k, offset))
                payload.append(bagit_layout.PayloadFile(cname, size, sha256))
        bag_time = max([_dataset_mtime(dataset)]
                       + [m.mtime for m in bag_members])
        literal = [(f"data/{bagit_layout.DATASET_JSON}",
                    bagit_layout.dataset_json(dataset))]
        payload.append(bagit_layout.PayloadFile(
            bagit_layout.DATASET_JSON, len(literal[0][1]),
            hashlib.sha256(literal[0][1]).hexdigest()))
        bag_info = bagit_layout.bag_info_text(
            bagging_time=bag_time, files=payload,
            circle=(dataset.get("organization") or {}).get("name")
            or dataset.get("owner_org") or "",
            index=index, count=len(by_dataset),
            dataset_name=dataset["name"],
            dataset_title=dataset.get("title") or "", site_title=site_title)
        literal += bagit_layout.tag_files(payload, bag_info)
        for path, data in literal:
            member_key = f"{folder}/{path}"
            bag_members.append(archive_layout.Member(
                path=member_key, size=len(data), mtime=bag_time,
                sha256=hashlib.sha256(data).hexdigest(),
                crc32=zlib.crc32(data), key=member_key))
            other_sources[member_key] = _literal(data)
        members += bag_members
    _check_limits(len(members), sum(m.size for m in members))
    layout = archive_layout.build(members, comptype)
    fallback = (selection[0][1]["name"] if len(by_dataset) == 1
                else "download") + "-bagit"
    return Archive(archive_name(name, fallback, comptype), layout, sources,
                   datetime.datetime.fromtimestamp(
                       max(m.mtime for m in members), datetime.timezone.utc),
                   other_sources)


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


def record_private_grant(archive: Archive, start: int, end: int
                         ) -> Callable[[int], None] | None:
    """Record, before the first byte, that the request's user gets bytes
    [start, end] of an archive with private resources: one row per such
    resource. Returns what records the bytes sent once the stream ends
    (None for an archive of public data only)."""
    private = [(resource, dataset)
               for resource, dataset, _ in archive.sources.values()
               if not resource_state.dataset_is_public(dataset)]
    if not private:
        return None
    actor = audit.current_actor()
    grant = uuid.uuid4().hex  # ties the rows of one response together
    detail = {"grant": grant, "archive": archive.name,
              "range": [start, end]}
    audit.record_rows([audit_store.event_row(
        audit_rules.GRANT_ARCHIVE, actor=actor,
        circle_id=dataset.get("owner_org"), package_id=dataset.get("id"),
        resource_id=resource["id"], size=resource.get("size"),
        detail=detail) for resource, dataset in private],
        wait_for_disk=False)

    def sent(count: int) -> None:
        audit.record(audit_rules.ARCHIVE_SENT, actor=actor, size=count,
                     outcome="ok" if count == end - start + 1 else "cut",
                     detail={**detail, "resources": len(private)})
    return sent


def byte_stream(archive: Archive, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end] of the archive; a member that does not verify
    logs one integrity line and cuts the stream short (an exception, so
    that the web server closes the connection)."""
    actor = audit.current_actor()  # the stream runs after the request
    def open_member(member: archive_layout.Member, offset: int):
        if member.key in archive.other_sources:
            # a bag's tag file, dataset.json or condensed object: no
            # resource download
            chunks = archive.other_sources[member.key](offset)
        else:
            resource, dataset, provider = archive.sources[member.key]
            if offset == 0:  # a member streamed from its first byte
                ckan_compat.resource_downloaded(resource["id"])
            chunks = provider.open(resource, dataset, offset)
        return ReadAhead(archive_stream.HashedChunks(
            chunks,
            crc=archive.layout.comptype == "zip"))

    def integrity_error(member: archive_layout.Member, message: str) -> None:
        log.error("integrity error: resource %s (%s): %s; archive %s cut "
                  "short", member.key, member.path, message, archive.name)
        metrics.count("integrity_errors", where="archive")
        source = archive.sources.get(member.key)
        dataset = source[1] if source else {}
        audit.record(audit_rules.INTEGRITY_ERROR, actor=actor,
                     circle_id=dataset.get("owner_org"),
                     package_id=dataset.get("id"),
                     resource_id=member.key if source else None,
                     outcome="failed", detail={
                         "where": "archive", "archive": archive.name,
                         "member": member.path, "error": message})
        raise IntegrityAbort(message)

    return archive_stream.stream(archive.layout, start, end, open_member,
                                 integrity_error)
