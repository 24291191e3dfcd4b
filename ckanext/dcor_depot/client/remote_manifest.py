"""The site's manifest of a dataset (the `dataset_manifest` action) as the
download needs it: one entry per file, each with a local path that stays
inside TARGET and a URL on the site the user named. Anything else in the
answer is refused before a byte is fetched."""
from __future__ import annotations

import dataclasses
import os
import pathlib
import urllib.parse
from typing import Any

from .. import manifest, naming
from .errors import ClientError


@dataclasses.dataclass
class Entry:
    path: str        # `{dataset}/{name}`, from the manifest
    size: int
    sha256: str | None
    url: str
    local: pathlib.Path



def on_site(site: str, url: str) -> str:
    """The path (and query) of a manifest's URL on the site the user
    named: the token goes to that host only, whatever host the answer
    names (a site behind a proxy may not know its public URL)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.path.startswith("/"):
        raise ValueError(url)
    base = urllib.parse.urlsplit(site)
    return urllib.parse.urlunsplit((base.scheme, base.netloc, parts.path,
                                    parts.query, ""))


def manifest_entries(result: dict[str, Any], target: pathlib.Path,
                     site: str) -> tuple[str, list[Entry]]:
    """The dataset's folder name and its entries, each with a local path
    that stays inside TARGET; anything else in the answer is an error."""
    try:
        files = result["files"]
        folder = result["dataset"]
        if not isinstance(files, list) or not isinstance(folder, str):
            raise TypeError
    except (KeyError, TypeError):
        raise ClientError("the site's dataset_manifest answer has no "
                          "'dataset' and 'files'") from None
    root = os.path.realpath(target)
    entries = []
    folder_name = None
    for item in files:
        try:
            path = manifest.check_path(str(item["path"]))
            size = int(item["size"])
            sha256 = item.get("sha256")
            url = on_site(site, str(item["url"]))
        except manifest.BadManifest as exc:
            raise ClientError(f"refused the site's manifest: {exc}") from None
        except (KeyError, TypeError, ValueError):
            raise ClientError(f"the site's manifest has a bad entry: "
                              f"{str(item)[:120]}") from None
        head, _, name = path.partition("/")
        if not name or "/" in name or (folder_name not in (None, head)):
            raise ClientError(f"refused the site's manifest: path {path!r} "
                              "is not '{dataset}/{file}'")
        folder_name = head
        if any(entry.path == path for entry in entries):
            raise ClientError(f"refused the site's manifest: path {path!r} "
                              "is listed twice")
        local = os.path.realpath(os.path.join(root, path))
        if os.path.commonpath([root, local]) != root:
            raise ClientError(f"refused the site's manifest: path {path!r} "
                              "leaves the target folder")
        if sha256 is not None and (not isinstance(sha256, str) or
                                   len(sha256) != 64):
            raise ClientError(f"the site's manifest has a bad sha256 for "
                              f"{path}")
        entries.append(Entry(path, size, sha256, url, pathlib.Path(local)))
    refuse_clashes([entry.path.split("/", 1)[1] for entry in entries])
    return folder_name or manifest.check_path(folder), entries


def refuse_clashes(names: list[str]) -> None:
    """Refuse (one line) a dataset whose files would be one file on a
    case-insensitive file system (macOS, Windows), or whose names meet the
    `.part` of another, or MANIFEST.sha256 (which the download writes):
    two threads would write one file. Checked on every system, so a
    folder downloaded on Linux can be copied to a laptop."""
    owners = {naming.folded(manifest.MANIFEST_NAME): manifest.MANIFEST_NAME}
    for name in names:
        for local in (name, f"{name}.part"):
            owner = owners.setdefault(naming.folded(local), name)
            if owner == name:
                continue
            if naming.folded(owner) == naming.folded(name):
                why = ("differ only in case (or Unicode form): they would "
                       "be one file on macOS and Windows")
            else:
                why = f"meet as {local!r}, which the download writes"
            raise ClientError(f"refused the site's manifest: {owner!r} and "
                              f"{name!r} {why}")

