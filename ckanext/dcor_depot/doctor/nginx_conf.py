"""nginx's config as the doctor reads it: the server block of this site,
its upload limit and its locations.

Parsing is crossplane's (nginx's own Python parser, includes followed);
what is looked up in the parsed tree is pure.
"""
from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any

DEFAULT_BODY_LIMIT = "1m"   # nginx's own default


class ConfigUnreadable(Exception):
    """The file is missing or nginx's parser refused it."""


@dataclasses.dataclass(frozen=True)
class BodyLimit:
    value: str
    where: str


def load(path: str) -> list[dict[str, Any]]:
    """The directives of `path` with every include put in its place."""
    import crossplane

    try:
        parsed = crossplane.parse(path, check_ctx=False, check_args=False,
                                  comments=False)
    except OSError as exc:
        raise ConfigUnreadable(f"{path}: {exc.strerror}") from None
    if parsed["errors"]:
        error = parsed["errors"][0]
        raise ConfigUnreadable(f"{error['file']}:{error.get('line')}: "
                               f"{error['error']}")
    files = parsed["config"]
    return _inline(files[0]["parsed"], files)


def _inline(block: list[dict], files: list[dict]) -> list[dict]:
    out = []
    for directive in block:
        if directive["directive"] == "include":
            for index in directive.get("includes", []):
                out.extend(_inline(files[index]["parsed"], files))
            continue
        if "block" in directive:
            directive = {**directive,
                         "block": _inline(directive["block"], files)}
        out.append(directive)
    return out


def _children(block: list[dict], name: str) -> list[dict]:
    return [d for d in block if d["directive"] == name]


def _value(block: list[dict], name: str) -> str | None:
    found = _children(block, name)
    return found[-1]["args"][0] if found and found[-1]["args"] else None


def _listens_on(server: list[dict], port: int) -> bool:
    for listen in _children(server, "listen"):
        address = listen["args"][0] if listen["args"] else ""
        tail = address.rsplit(":", 1)[-1] if ":" in address else address
        if tail.isdigit() and int(tail) == port:
            return True
    return not _children(server, "listen") and port == 80


def site_server(directives: list[dict], site_url: str) -> tuple[list, list]:
    """(http block, server block) that serves `site_url`: listens on its
    port and names its host, else the only one on that port."""
    url = urllib.parse.urlsplit(site_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    candidates = []
    for http in _children(directives, "http") or [{"block": directives}]:
        for server in _children(http["block"], "server"):
            if _listens_on(server["block"], port):
                candidates.append((http["block"], server["block"]))
    named = [c for c in candidates
             if url.hostname in (_children(c[1], "server_name") or
                                 [{"args": []}])[0]["args"]]
    if named:
        return named[0]
    if len(candidates) == 1:
        return candidates[0]
    raise LookupError(f"no server block of nginx's config serves "
                      f"{site_url} (by port {port} and server_name "
                      f"{url.hostname})")


def locations(server: list[dict]) -> dict[str, list[dict]]:
    """Prefix and exact locations by their path (regex ones left out)."""
    found = {}
    for location in _children(server, "location"):
        args = location["args"]
        if len(args) == 1:
            found[args[0]] = location["block"]
        elif len(args) == 2 and args[0] in ("=", "^~"):
            found[args[1]] = location["block"]
    return found


def upload_body_limit(http: list[dict], server: list[dict]) -> BodyLimit:
    """client_max_body_size for CKAN's upload routes: that of `location /`,
    else the server's, else http's, else nginx's default."""
    root = locations(server).get("/", [])
    for block, where in ((root, "location /"), (server, "server"),
                         (http, "http")):
        value = _value(block, "client_max_body_size")
        if value is not None:
            return BodyLimit(value, where)
    return BodyLimit(DEFAULT_BODY_LIMIT, "nginx's default")
