"""BagIt bags (RFC 8493, v1.0), one per dataset, in DCOR-Aid 1.1's layout.
Pure: names, tag files and their text; no I/O, no CKAN. The site's bag
archives and the client's bags on disk both come from here.

A bag is the folder `{NN…}_{dataset name}`:

    data/dataset.json          the dataset as package_show gives it
    data/{resource}            each resource at its manifest name
    data/{stem}_condensed.rtdc a resource's condensed file, where one exists
    bagit.txt
    bag-info.txt
    manifest-sha256.txt
    tagmanifest-sha256.txt

The tag manifest ends without a line break: DCOR-Aid's `is_bagged` splits
its text on "\n" and fails on an empty last line, and bagit.py reads a last
line without one (RFC 8493 2.1.3 names the line separators, it does not
require one after the last line).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import time
from collections.abc import Sequence
from typing import Any

from .. import naming

DATA_FOLDER = "data"
DATASET_JSON = "dataset.json"
CONDENSED_SUFFIX = "_condensed.rtdc"
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
SOFTWARE_AGENT = \
    "ckanext-dcor_depot <https://github.com/DCOR-dev/ckanext-dcor_depot>"
# in the order they are written: payload first, so a bag cut short never
# has the tag manifest that makes it look complete
TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt",
             "tagmanifest-sha256.txt")


@dataclasses.dataclass(frozen=True)
class PayloadFile:
    name: str  # relative to data/, one path component
    size: int
    sha256: str


def bag_folder(index: int, count: int, dataset_name: str) -> str:
    """`{NN…}_{name}` of bag `index` (1-based) of `count`, numbered as
    DCOR-Aid numbers them: one digit more than `count` needs."""
    if not 1 <= index <= count:
        raise ValueError(f"bag {index} of {count}")
    try:
        name = naming.safe_name(dataset_name, "dataset name")
    except naming.UnsafeNameError:
        name = "dataset"
    return f"{str(index).zfill(len(str(count)) + 1)}_{name}"


def condensed_name(resource_name: str) -> str:
    """DCOR-Aid's name for a resource's condensed file: the name's stem
    (without its last suffix) and `_condensed.rtdc`."""
    stem = posixpath.splitext(resource_name)[0] or resource_name
    return stem + CONDENSED_SUFFIX


def payload_names(resource_names: Sequence[tuple[str, str]],
                  condensed: Sequence[str]) -> tuple[dict[str, str],
                                                     dict[str, str]]:
    """Names under data/ for (resource id, manifest name) pairs and for the
    condensed files of the resource ids in `condensed`: (resource id ->
    name, resource id -> condensed name). `dataset.json` is reserved; a
    name that would be taken twice gets the resource id as prefix
    (naming.unique_names), the same on every call.

    A `%` becomes `_`: RFC 8493 wants it written `%25` in a manifest, and
    bagit.py (1.9, bagit-python issue 157) reads `%25` literally, so a
    name with `%` cannot validate with both; without one it does. CR and
    LF never reach here (naming.safe_name replaces them)."""
    wanted = [DATASET_JSON] + [_without_percent(name)
                               for _, name in resource_names]
    ids: list[object] = ["dataset"] + [rid for rid, _ in resource_names]
    by_id = dict(resource_names)
    for rid in condensed:
        wanted.append(_without_percent(condensed_name(by_id[rid])))
        ids.append(f"{rid}-condensed")
    unique = naming.unique_names(wanted, ids)[1:]
    count = len(resource_names)
    return ({rid: name for (rid, _), name in zip(resource_names, unique)},
            {rid: name for rid, name in zip(condensed, unique[count:])})


def _without_percent(name: str) -> str:
    return name.replace("%", "_")


def encode_path(path: str) -> str:
    """A file path as RFC 8493 2.1.3 writes it in a manifest: `%`, CR and
    LF (and only those) percent-encoded."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def payload_oxum(files: Sequence[PayloadFile]) -> str:
    return f"{sum(f.size for f in files)}.{len(files)}"


def manifest_text(files: Sequence[PayloadFile]) -> bytes:
    """manifest-sha256.txt: one `{sha256}  data/{name}` line per file."""
    return "".join(
        f"{f.sha256}  {encode_path(DATA_FOLDER + '/' + f.name)}\n"
        for f in files).encode("utf-8")


def dataset_json(dataset: dict[str, Any]) -> bytes:
    """data/dataset.json, formatted as DCOR-Aid writes it."""
    return json.dumps(dataset, indent=2, sort_keys=True).encode("utf-8")


def _value(text: Any) -> str:
    # a bag-info value is one line here (no continuation lines needed)
    return " ".join(str(text or "").split())


def bag_info_text(*, bagging_time: int, files: Sequence[PayloadFile],
                  circle: str, index: int, count: int, dataset_name: str,
                  dataset_title: str, site_title: str) -> bytes:
    """bag-info.txt. The Bagging-Date is that of the bag's latest change
    (given), not today's, so the bytes of a bag stay the same and a
    download resumed another day gets the bytes it resumes."""
    lines = [
        f"Bag-Software-Agent: {SOFTWARE_AGENT}",
        time.strftime("Bagging-Date: %Y-%m-%d", time.gmtime(bagging_time)),
        f"Payload-Oxum: {payload_oxum(files)}",
        f"Bag-Group-Identifier: {_value(circle)}",
        f"Bag-Count: {index} of {count}",
        f"External-Identifier: {_value(dataset_name)}",
        f"Internal-Sender-Identifier: {_value(dataset_title)}",
        f"Source-Organization: {_value(site_title)}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def tag_manifest_text(tag_files: Sequence[tuple[str, bytes]]) -> bytes:
    """tagmanifest-sha256.txt for (name, bytes) of the other tag files,
    without a line break after the last line (see the module's note)."""
    return "\n".join(
        f"{hashlib.sha256(data).hexdigest()}  {encode_path(name)}"
        for name, data in tag_files).encode("utf-8")


def tag_files(files: Sequence[PayloadFile], bag_info: bytes
              ) -> list[tuple[str, bytes]]:
    """(name, bytes) of the four tag files, in TAG_FILES order."""
    tags = [("bagit.txt", BAGIT_TXT), ("bag-info.txt", bag_info),
            ("manifest-sha256.txt", manifest_text(files))]
    return tags + [("tagmanifest-sha256.txt", tag_manifest_text(tags))]
