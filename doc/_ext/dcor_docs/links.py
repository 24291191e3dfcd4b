"""Offline check of the built HTML's internal links: every relative href
or src must name a file of the build, and its #fragment an id in that
file. External links (any scheme, or //host) are not fetched.

    python -m dcor_docs.links doc/_build/html
"""
from __future__ import annotations

import html.parser
import pathlib
import sys
import urllib.parse

LINK_ATTRIBUTES = {"a": "href", "link": "href", "img": "src",
                   "script": "src", "iframe": "src", "source": "src"}


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        # fragments point at ids, and at <a name=...> in older HTML
        for name in ("id", "name") if tag == "a" else ("id",):
            if values.get(name):
                self.ids.add(values[name])
        link = values.get(LINK_ATTRIBUTES.get(tag, ""))
        if link:
            self.links.append(link)


def _parse(path: pathlib.Path, cache: dict) -> _Page:
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = page
    return cache[path]


def _internal(link: str) -> bool:
    parts = urllib.parse.urlsplit(link)
    return not parts.scheme and not parts.netloc


def broken_links(root: pathlib.Path) -> tuple[int, list[str]]:
    """(internal links checked, one line per broken one)."""
    root = root.resolve()
    cache: dict[pathlib.Path, _Page] = {}
    checked, broken = 0, []
    for page_path in sorted(root.rglob("*.html")):
        for link in _parse(page_path, cache).links:
            if not _internal(link):
                continue
            checked += 1
            parts = urllib.parse.urlsplit(link)
            target = page_path
            if parts.path:
                target = (page_path.parent /
                          urllib.parse.unquote(parts.path)).resolve()
            where = f"{page_path.relative_to(root)}: {link}"
            if not target.is_relative_to(root):
                broken.append(f"{where}: leaves the build")
            elif not target.is_file():
                broken.append(f"{where}: no such file")
            elif parts.fragment and target.suffix == ".html" and \
                    urllib.parse.unquote(parts.fragment) not in \
                    _parse(target, cache).ids:
                broken.append(f"{where}: no id {parts.fragment!r} there")
    return checked, broken


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not pathlib.Path(argv[0]).is_dir():
        print("usage: python -m dcor_docs.links BUILT_HTML_DIR",
              file=sys.stderr)
        return 2
    checked, broken = broken_links(pathlib.Path(argv[0]))
    for line in broken:
        print(f"broken link: {line}", file=sys.stderr)
    print(f"internal links: {checked} checked, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
