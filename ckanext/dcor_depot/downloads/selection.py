"""What a request for an archive of a selection asks for, read and bounded
before anything is looked up. Pure: no I/O, no CKAN.

A selection names datasets (`dataset=`), resources (`resource=`) and
resource download URLs of this site (`url=`, MyTardis's third selector).
Repeated values count once. Too many resources or datasets, or a request
larger than the bound that follows from them, is refused whole (413), so
that a request's cost is bounded by the site's limits, not by its length.
"""
from __future__ import annotations

import dataclasses
import re
import urllib.parse
from typing import Iterable

# The longest value a well-formed selection needs: a download URL with a
# site URL, a dataset name (100 characters) and a file name (up to 255
# UTF-8 bytes, percent-encoded three times as long), form-encoded again.
BYTES_PER_VALUE = 4096
# comptype, name, the CSRF token and the form's own overhead
BYTES_FIXED = 8192

_DOWNLOAD_PATH = re.compile(
    r"(?:/[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]+)?)?"  # a locale prefix, /de, /pt_BR
    r"/dataset/(?P<dataset>[^/]+)/resource/(?P<resource>[^/]+)"
    r"/download(?:/[^/]+)?/?")


class SelectionRefused(Exception):
    """A selection that gets no archive: an HTTP status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class DownloadURL:
    """A resource download URL of this site: the dataset as the URL names
    it (id or name) and the resource id."""
    dataset: str
    resource: str


@dataclasses.dataclass(frozen=True)
class Selection:
    datasets: tuple[str, ...]  # whole datasets (or, with urls, the limit)
    resources: tuple[str, ...]  # resource ids
    urls: tuple[DownloadURL, ...]

    @property
    def resource_count(self) -> int:
        return len(set(self.resources) | {u.resource for u in self.urls})


def request_bound(max_files: int, max_datasets: int) -> int:
    """Most bytes of query string and body a selection within the limits
    needs."""
    return BYTES_FIXED + BYTES_PER_VALUE * (max_files + max_datasets)


def unique(values: Iterable[str]) -> tuple[str, ...]:
    """The values without repeats and blanks, in their first order."""
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))


def _shown(url: str) -> str:
    return repr(url if len(url) <= 120 else url[:117] + "...")


def parse_download_url(url: str, site_url: str) -> DownloadURL:
    """The dataset and resource of a resource download URL of this site:
    absolute (under `site_url`) or site-relative (starting with /), as
    `/dataset/{id}/resource/{rid}/download[/{name}]`. Anything else raises
    SelectionRefused (400)."""
    site = urllib.parse.urlsplit(site_url.rstrip("/"))
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme or parts.netloc:
        if (parts.scheme.lower(), parts.netloc.lower()) != \
                (site.scheme.lower(), site.netloc.lower()):
            raise SelectionRefused(400, f"not a URL of this site "
                                        f"({site_url}): {_shown(url)}")
    elif not parts.path.startswith("/"):
        raise SelectionRefused(400, f"not an absolute or site-relative "
                                    f"URL: {_shown(url)}")
    path = parts.path
    if site.path and (path == site.path or path.startswith(site.path + "/")):
        path = path[len(site.path):]
    elif parts.netloc and site.path:  # this host, but outside the site
        raise SelectionRefused(400, f"not a URL of this site "
                                    f"({site_url}): {_shown(url)}")
    match = _DOWNLOAD_PATH.fullmatch(path)
    if match is None or parts.query:
        raise SelectionRefused(400, f"not a resource download URL "
                                    f"(/dataset/ID/resource/ID/download): "
                                    f"{_shown(url)}")
    dataset, resource = (urllib.parse.unquote(match[key])
                         for key in ("dataset", "resource"))
    return DownloadURL(dataset=dataset, resource=resource)


def read(datasets: Iterable[str], resources: Iterable[str],
         urls: Iterable[str], site_url: str, max_files: int,
         max_datasets: int) -> Selection:
    """The selection of a request, repeats removed, within the limits, or
    SelectionRefused. Counts are checked before the URLs are parsed, so a
    refused request costs no more than its length."""
    datasets, resources, urls = unique(datasets), unique(resources), \
        unique(urls)
    hint = "; use the dcor-depot client for larger downloads"
    if len(datasets) > max_datasets:
        raise SelectionRefused(413, f"the selection names {len(datasets)} "
                                    f"datasets, this site's limit is "
                                    f"{max_datasets}{hint}")
    for count, what in ((len(resources), "resources"),
                        (len(urls), "download URLs")):
        if count > max_files:
            raise SelectionRefused(413, f"the selection names {count} {what}, "
                                        f"this site's limit is {max_files} "
                                        f"files{hint}")
    parsed = tuple(dict.fromkeys(parse_download_url(url, site_url)
                                 for url in urls))
    selection = Selection(datasets, resources, parsed)
    if selection.resource_count > max_files:
        raise SelectionRefused(413, f"the selection names "
                                    f"{selection.resource_count} resources, "
                                    f"this site's limit is {max_files} "
                                    f"files{hint}")
    return selection
