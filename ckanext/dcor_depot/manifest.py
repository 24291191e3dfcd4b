"""Checksum manifests (pure): one path per resource and the
`sha256sum -c` format, shared by the site's manifests, the archives and
the command-line client. No CKAN here: the client imports this module.

A resource's path is `{dataset_name}/{resource_name}`, both made safe (one
path component each) and the resource names unique within the dataset.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from . import naming

MANIFEST_NAME = "MANIFEST.sha256"
_LINE_RE = re.compile(r"^([0-9a-f]{64})  (.+)$")


class BadManifest(ValueError):
    """A manifest line that is not `{sha256}  {relative path}`."""


def download_paths(dataset_name: str,
                   resources: Sequence[tuple[str, str]]) -> list[str]:
    """`{dataset}/{resource}` for each (resource id, resource name) of one
    dataset, in order. A name with nothing usable is replaced by the
    resource id; names taken twice get the resource id as a prefix (see
    naming.unique_names), the same on every call."""
    try:
        folder = naming.safe_name(dataset_name, "dataset name")
    except naming.UnsafeNameError:
        folder = "dataset"
    names = []
    for rid, name in resources:
        try:
            names.append(naming.safe_name(name or "", "resource name"))
        except naming.UnsafeNameError:
            names.append(rid)
    unique = naming.unique_names(names, [rid for rid, _ in resources])
    return [f"{folder}/{name}" for name in unique]


def check_path(path: str) -> str:
    """A relative path inside the folder of the manifest, or BadManifest."""
    parts = path.split("/")
    if not path or path.startswith("/") or \
            any(part in ("", ".", "..") for part in parts):
        raise BadManifest(f"path {path!r} leaves the folder or is empty")
    if "\\" in path:   # a separator on Windows
        raise BadManifest(f"path {path!r} holds a backslash")
    if any(ord(ch) < 32 for ch in path):
        raise BadManifest(f"path {path!r} holds a control character")
    return path


def manifest_line(sha256: str, path: str) -> str:
    return f"{sha256}  {check_path(path)}\n"


def manifest_text(entries: Iterable[tuple[str, str]],
                  comment: str | None = None) -> str:
    """`sha256sum -c`-ready text of (sha256, path) entries; an optional
    first comment line (sha256sum skips lines starting with #)."""
    head = f"# {comment}\n" if comment else ""
    return head + "".join(manifest_line(sha256, path)
                          for sha256, path in entries)


def parse_manifest(text: str) -> list[tuple[str, str]]:
    """(sha256, path) of every line; comments and blank lines are skipped.
    Raises BadManifest naming the first bad line.

    Lines end at "\n" only, as for `sha256sum -c` (which also drops a
    "\r" before it): a name may hold U+2028, U+0085 and the like, which
    `str.splitlines` would take for line ends. A line that starts with a
    backslash is GNU sha256sum's escaped form of a name holding "\\",
    "\n" or "\r"; such names are no paths of ours (`check_path`)."""
    entries = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("\\"):
            raise BadManifest(f"line {number} names a file with a "
                              "backslash, newline or carriage return "
                              "(sha256sum's escaped form), which is no "
                              "path of a DCOR dataset")
        match = _LINE_RE.match(line)
        if not match:
            raise BadManifest(f"line {number} is not '{{sha256}}  {{path}}':"
                              f" {line[:80]!r}")
        try:
            entries.append((match.group(1), check_path(match.group(2))))
        except BadManifest as exc:
            raise BadManifest(f"line {number}: {exc}") from None
    return entries
