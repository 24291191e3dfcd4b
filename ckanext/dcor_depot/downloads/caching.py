"""Who may keep an answer: the caching headers of every route that hands
out a dataset's bytes, names, sizes or checksums. Pure: no request.

- A non-public dataset's content (private, draft or deleted) is for its
  reader only: `Cache-Control: private, no-store`. No shared cache (nginx's
  `proxy_cache`, a CDN) keeps it, and no browser writes it to disk.
- A public, active dataset's content is the same for everyone: it stays
  cacheable (CKAN adds `public, max-age=ckan.cache_expires`) and
  conditional through its ETag.
- An answer that depends on the caller (who may read what, whose list)
  also names the headers that tell callers apart, `Vary: Authorization,
  Cookie`, for any cache that might keep it all the same.
"""
from __future__ import annotations

from typing import Any

# The headers a caller is known by: an API token, or CKAN's session cookie.
CALLER_HEADERS = ("Authorization", "Cookie")
PRIVATE = "private, no-store"


def is_public_active(dataset: dict[str, Any]) -> bool:
    """Whether everyone may read the dataset: public and active."""
    return not dataset.get("private", True) and \
        dataset.get("state") == "active"


def cache_headers(public_active: bool, per_caller: bool) -> dict[str, str]:
    """The caching headers of an answer. `public_active`: it shows only
    public, active datasets' content (or none at all). `per_caller`: it
    differs between callers. An empty Cache-Control leaves CKAN's own
    (public, max-age=ckan.cache_expires, must-revalidate)."""
    headers = {}
    if not public_active:
        headers["Cache-Control"] = PRIVATE
    if per_caller or not public_active:
        headers["Vary"] = ", ".join(CALLER_HEADERS)
    return headers
