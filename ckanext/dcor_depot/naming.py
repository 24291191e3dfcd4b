"""Pure functions for paths, keys and names. No I/O here.

The layout is the one existing DCOR sites use (see doc/concepts.rst,
"Storage layout").
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
import urllib.parse

ARTIFACTS = ("resource", "condensed", "preview")
MAX_NAME_BYTES = 200
_UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class UnsafeNameError(ValueError):
    """A name from a user or a remote service cannot be made safe."""


def check_resource_id(rid: str) -> str:
    """Return `rid` if it is a canonical UUID, else raise ValueError."""
    if not isinstance(rid, str) or not _UUID_RE.match(rid):
        raise ValueError(f"not a valid resource id: {rid!r}")
    return rid


def resource_path(storage_path: str, rid: str) -> str:
    """Where CKAN expects the file of an uploaded resource, below
    ckan.storage_path."""
    return resource_file(os.path.join(storage_path, "resources"), rid)


def resource_file(resource_files_dir: str, rid: str) -> str:
    """Where CKAN expects the file of an uploaded resource in the folder
    of its resource files (`storage_path/resources`, or the path of CKAN
    2.12's resource storage)."""
    check_resource_id(rid)
    return os.path.join(resource_files_dir, rid[:3], rid[3:6], rid[6:])


# Unicode categories that never stay in a name: controls (C0 and C1, so
# also U+0085 NEXT LINE), format characters such as zero-width spaces,
# surrogates, private use and unassigned (Cc, Cf, Cs, Co, Cn), and the
# line and paragraph separators U+2028 and U+2029 (Zl, Zp). Every one of
# them either breaks a line of a manifest (str.splitlines splits on all of
# Cc's line breaks, Zl and Zp) or is invisible.
_REPLACED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
# what breaks a line or is a control: refused (not replaced) in the names
# of a user's local files
_LINE_BREAK_CATEGORIES = ("Cc", "Zl", "Zp")
_LEADING_DOTS_AND_SPACES = re.compile(r"^[\s.]+")


def _replaced(ch: str) -> bool:
    return ch in "/\\" or unicodedata.category(ch) in _REPLACED_CATEGORIES


def safe_name(name: str, what: str = "name") -> str:
    """Turn an untrusted name into one path component.

    The name is NFC-normalised; separators, control, format and line- or
    paragraph-separator characters become "_"; leading dots and spaces are
    dropped (no hidden files, no ".."), trailing spaces too, and the result
    is cut to MAX_NAME_BYTES of UTF-8. Applied to its own result it gives
    the same name (the client relies on that: it names files as the site
    will). Raises UnsafeNameError if nothing usable is left.
    """
    if not isinstance(name, str):
        raise UnsafeNameError(f"{what} is not text: {name!r}")
    name = unicodedata.normalize("NFC", name)
    cleaned = "".join("_" if _replaced(ch) else ch for ch in name)
    cleaned = _LEADING_DOTS_AND_SPACES.sub("", cleaned).rstrip()
    encoded = cleaned.encode("utf-8")[:MAX_NAME_BYTES]
    cleaned = encoded.decode("utf-8", errors="ignore").strip()
    if not cleaned or set(cleaned) <= {"_", "."}:
        raise UnsafeNameError(f"{what} has no usable characters: {name!r}")
    return cleaned


def user_depot_path(depots_path: str, users_depot_name: str, user_name: str,
                    org_name: str, pid: str, dataset_name: str, rid: str,
                    resource_name: str) -> str:
    """Where the depot keeps an uploaded resource."""
    check_resource_id(rid)
    user_folder = safe_name(f"{user_name}-{org_name}", "user and circle")
    file_name = safe_name(f"{dataset_name}_{rid}_{resource_name}",
                          "resource file name")
    return os.path.join(depots_path, users_depot_name, user_folder,
                        pid[:2], pid[2:4], file_name)


def figshare_depot_path(depots_path: str, dataset_name: str,
                        file_name: str) -> str:
    return os.path.join(depots_path, "figshare",
                        safe_name(dataset_name, "figshare dataset name"),
                        safe_name(file_name, "figshare file name"))


def object_key(artifact: str, rid: str) -> str:
    """S3 key of one artifact of a resource."""
    if artifact not in ARTIFACTS:
        raise ValueError(f"unknown artifact {artifact!r}; one of {ARTIFACTS}")
    check_resource_id(rid)
    return f"{artifact}/{rid[:3]}/{rid[3:6]}/{rid[6:]}"


def staging_key(rid: str) -> str:
    """S3 key a client's direct upload goes to before it is accepted.

    Presigned URLs point here, never at `object_key("resource", rid)`, so
    that no issued URL can touch an accepted object."""
    check_resource_id(rid)
    return f"staging/{rid[:3]}/{rid[3:6]}/{rid[6:]}"


def fixity_key(rid: str) -> str:
    """S3 key where fixity puts an object's replacement (from the verified
    depot copy) until it is verified and copied over the damaged object.
    Outside the artifacts' prefixes, so the bucket policy never makes it
    readable; one fixed key per resource, so a re-run finds a leftover."""
    check_resource_id(rid)
    return f"fixity/{rid[:3]}/{rid[3:6]}/{rid[6:]}"


def bucket_name(template: str, organization_id: str) -> str:
    name = template.format(organization_id=organization_id)
    if not _BUCKET_RE.match(name):
        raise ValueError(f"not a valid S3 bucket name: {name!r}")
    return name


def object_url(endpoint_url: str, bucket: str, key: str) -> str:
    return f"{endpoint_url.rstrip('/')}/{bucket}/{key}"


def bucket_pattern(template: str) -> re.Pattern:
    """Matches the bucket names `bucket_name(template, ...)` makes; the
    group "organization_id" holds the circle's id."""
    head, _, tail = template.partition("{organization_id}")
    return re.compile(f"^{re.escape(head)}(?P<organization_id>[0-9a-f-]{{36}})"
                      f"{re.escape(tail)}$")


def public_read_policy(bucket: str) -> str:
    """Bucket policy: anonymous GET only of objects tagged public=true."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AnonymousReadOfPublicObjects",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            # the artifacts only: a client's staging upload is never
            # readable, whatever tags the client sent with it
            "Resource": [f"arn:aws:s3:::{bucket}/{artifact}/*"
                         for artifact in ARTIFACTS],
            "Condition": {
                "StringEquals": {"s3:ExistingObjectTag/public": "true"}},
        }],
    }, sort_keys=True)


def site_origin(site_url: str) -> str:
    """The origin (scheme://host[:port]) of `ckan.site_url`: the pages
    whose browsers send parts to the buckets."""
    parts = urllib.parse.urlsplit(site_url)
    return f"{parts.scheme}://{parts.netloc}"


def upload_cors_rules(origin: str) -> dict:
    """Bucket CORS: the site's pages may PUT parts with their Content-MD5
    and read the part's ETag (the browser uploader, issue 25); nothing
    else is allowed across origins."""
    return {"CORSRules": [{
        "AllowedOrigins": [origin],
        "AllowedMethods": ["PUT"],
        "AllowedHeaders": ["content-md5", "content-type"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3600,
    }]}


MAX_ID_PREFIX_BYTES = 64
_MAX_KEPT_SUFFIX_BYTES = 16


def _utf8_prefix(text: str, max_bytes: int) -> str:
    """The longest start of `text` that fits in `max_bytes` of UTF-8."""
    return text.encode("utf-8")[:max(max_bytes, 0)].decode(
        "utf-8", errors="ignore")


def _prefixed_name(prefix: str, name: str) -> str:
    """`prefix + name` within MAX_NAME_BYTES. When it is too long, the stem
    of `name` is cut and a short suffix such as ".rtdc" is kept, because
    DCOR tells file types apart by their suffix."""
    stem, dot, suffix = name.rpartition(".")
    if not (dot and stem and len(suffix.encode()) <= _MAX_KEPT_SUFFIX_BYTES):
        stem, suffix = name, ""
    tail = f".{suffix}" if suffix else ""
    budget = MAX_NAME_BYTES - len(prefix.encode()) - len(tail.encode())
    return prefix + _utf8_prefix(stem, budget) + tail


def unique_names(names: list[str], ids: list[object]) -> list[str]:
    """Safe, unique file names for a list of untrusted names.

    `names[i]` belongs to the item with the identifier `ids[i]` (a figshare
    file id, a resource id); `ids` should be unique. Returns one name per
    item, in the same order, such that

    - every name is `safe_name(names[i])` or derived from it, so it is one
      path component of at most MAX_NAME_BYTES (raises UnsafeNameError
      where `safe_name` does);
    - no two names are equal (compared case-sensitively, after the NFC
      normalisation of `safe_name`);
    - the result depends on `names` and `ids` only, never on what exists on
      disk, so the same list gives the same names on every run.

    The first item with a given safe name keeps it; so does every item whose
    safe name is unique in the list, even where a derived name would have
    taken it. A later item with the same safe name `n` gets `{id}_{n}`; if
    that is taken too, `{id}_2_{n}`, `{id}_3_{n}`, ... until one is free.
    The counter makes every candidate different from the ones before, so
    the loop ends (after at most len(names) + 1 candidates). The id part is
    cut to MAX_ID_PREFIX_BYTES; a name too long for its prefix loses the
    end of its stem, not its suffix.
    """
    if len(names) != len(ids):
        raise ValueError(f"{len(names)} names but {len(ids)} ids")
    safe = [safe_name(name, "file name") for name in names]
    result: list[str | None] = [None] * len(safe)
    taken: set[str] = set()
    # first pass: plain names, so no derived name can take one of them
    for index, name in enumerate(safe):
        if name not in taken:
            taken.add(name)
            result[index] = name
    # second pass: derived names for the later items with a taken name
    for index, name in enumerate(safe):
        if result[index] is not None:
            continue
        id_text = _utf8_prefix(safe_name(str(ids[index]), "file id"),
                               MAX_ID_PREFIX_BYTES)
        candidate = _prefixed_name(f"{id_text}_", name)
        counter = 1
        while candidate in taken:
            counter += 1
            candidate = _prefixed_name(f"{id_text}_{counter}_", name)
        taken.add(candidate)
        result[index] = candidate
    return [name for name in result if name is not None]


# Telling our keys and files from others (maintenance)

_UUID_ANYWHERE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TEMP_COPY_RE = re.compile(r"^\..+\.part-[0-9a-f]{12}$")


def parse_object_key(key: str) -> tuple[str, str] | None:
    """(artifact, rid) of one of our object keys; None for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] not in ARTIFACTS:
        return None
    rid = "".join(parts[1:])
    if not _UUID_RE.match(rid) or object_key(parts[0], rid) != key:
        return None
    return parts[0], rid


def parse_object_url(url: str) -> tuple[str, str] | None:
    """(bucket, key) named by a resource's s3_url (`object_url`), whatever
    the endpoint was; None if it names no object key of ours."""
    parts = (url or "").split("/")
    if len(parts) < 6:
        return None
    bucket, key = parts[-5], "/".join(parts[-4:])
    return (bucket, key) if parse_object_key(key) else None


def uuids_in_name(name: str) -> list[str]:
    """Every canonical UUID in a file name, in order. A depot file name
    holds the resource id, but the dataset or resource name may hold
    others."""
    return _UUID_ANYWHERE.findall(name)


def is_temp_copy_name(name: str) -> bool:
    """A temporary copy as storage/depot.py names them (`.{name}.part-*`)."""
    return bool(_TEMP_COPY_RE.match(name))


# Names on the user's side (the command-line client)

def first_line_break(name: str) -> str | None:
    """The first control or line-breaking character of a name (C0 and C1
    controls incl. tab and U+0085, U+2028, U+2029), or None. `safe_name`
    would replace it; the client refuses it instead, because such a name
    is an accident that the user should see and fix."""
    for ch in name:
        if unicodedata.category(ch) in _LINE_BREAK_CATEGORIES:
            return ch
    return None


def folded(name: str) -> str:
    """The form under which a case-insensitive file system (macOS's APFS
    and HFS+, Windows' NTFS) sees a name: two names with the same folded
    form are one file there. Unicode case folding after NFC normalisation
    (APFS also ignores the normalisation); it folds a little more than
    some file systems do (e.g. "ß" and "ss"), never less."""
    return unicodedata.normalize(
        "NFC", unicodedata.normalize("NFC", name).casefold())


def first_clash(names: list[str]) -> tuple[str, str] | None:
    """The first two different names of `names` that are one file on a
    case-insensitive file system (see `folded`), or None. Names listed
    twice count as one."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(folded(name), name)
        if other != name:
            return other, name
    return None
