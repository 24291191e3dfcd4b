"""Pure mapping of figshare API v2 articles to CKAN datasets. No I/O."""
from __future__ import annotations

import html.parser
import re
import uuid
from typing import Any

FIGSHARE_CIRCLE = "figshare-import"
FIGSHARE_NAMESPACE = uuid.UUID("b1c1e2f0-6a55-4f8e-9a73-2f3c1d1e5a90")
_DOI_RE = re.compile(r"^10\.6084/m9\.figshare\.(\d{1,12})\.v(\d{1,6})$")

# figshare licence names -> CKAN licence ids
LICENCES = {
    "CC0": "cc-zero",
    "CC0 1.0": "cc-zero",
    "CC BY": "cc-by",
    "CC BY 4.0": "cc-by",
    "CC BY 3.0": "cc-by",
    "CC BY-SA": "cc-by-sa",
    "CC BY-SA 4.0": "cc-by-sa",
    "CC BY-NC": "cc-nc",
    "CC BY-NC 4.0": "cc-nc",
}


class BadFigshareInput(ValueError):
    """A DOI or an article that cannot be imported."""


def parse_doi(doi: str) -> tuple[int, int]:
    """Article id and version of a figshare DOI like
    10.6084/m9.figshare.7771184.v2."""
    text = doi.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "doi:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    match = _DOI_RE.match(text)
    if not match:
        raise BadFigshareInput(f"not a figshare DOI: {doi!r}")
    return int(match.group(1)), int(match.group(2))


def read_doi_lines(text: str) -> list[str]:
    """DOIs of a DOI file: one per line, blank lines and # comments ignored."""
    return [line.split("#", 1)[0].strip() for line in text.splitlines()
            if line.split("#", 1)[0].strip()]


def dataset_name(article_id: int, version: int) -> str:
    return f"figshare-{article_id}-v{version}"


def dataset_id(doi: str) -> str:
    article_id, version = parse_doi(doi)
    return str(uuid.uuid5(FIGSHARE_NAMESPACE,
                          dataset_name(article_id, version)))


def resource_id(dataset_uuid: str, file_id: int) -> str:
    return str(uuid.uuid5(FIGSHARE_NAMESPACE, f"{dataset_uuid}/{file_id}"))


class _TextExtractor(html.parser.HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4",
              "tr", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup or "")
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts)
             .splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def licence_id(article: dict[str, Any]) -> str:
    name = str((article.get("license") or {}).get("name") or "").strip()
    if name not in LICENCES:
        raise BadFigshareInput(f"unknown licence {name!r}")
    return LICENCES[name]


def _tag(text: str) -> str | None:
    cleaned = re.sub(r"[^\w\-. ]", "", str(text)).strip()[:100]
    return cleaned if len(cleaned) >= 2 else None


def dataset_dict(doi: str, article: dict[str, Any],
                 owner_org: str) -> dict[str, Any]:
    """The CKAN dataset of one figshare article version (as a draft; it
    becomes active once its files are in)."""
    article_id, version = parse_doi(doi)
    if article.get("id") != article_id or article.get("version") != version:
        raise BadFigshareInput(
            f"article {article.get('id')} v{article.get('version')} does not "
            f"belong to {doi}")
    title = " ".join(str(article.get("title") or "").split())[:300]
    if not title:
        raise BadFigshareInput(f"article {article_id} has no title")
    authors = [" ".join(str(a.get("full_name") or "").split())
               for a in article.get("authors") or []]
    references = [str(r) for r in article.get("references") or []]
    tags = [{"name": t} for t in dict.fromkeys(
        filter(None, map(_tag, article.get("tags") or [])))]
    notes = html_to_text(str(article.get("description") or ""))
    if references:
        notes += "\n\nReferences:\n" + "\n".join(
            f"- {r}" for r in references)
    return {
        "id": dataset_id(doi),
        "name": dataset_name(article_id, version),
        "title": title,
        "owner_org": owner_org,
        "private": False,
        "state": "draft",
        "author": ", ".join(a for a in authors if a),
        "url": f"https://doi.org/{doi}",
        "notes": notes,
        "license_id": licence_id(article),
        "tags": tags,
        "extras": [{"key": "doi", "value": doi},
                   {"key": "references", "value": "\n".join(references)}],
    }


def downloadable_files(article: dict[str, Any]) -> list[dict[str, Any]]:
    """The article's files that have bytes (not link-only), checked."""
    files = []
    for item in article.get("files") or []:
        if item.get("is_link_only"):
            continue
        for key in ("id", "name", "size", "download_url"):
            if item.get(key) in (None, ""):
                raise BadFigshareInput(f"file entry without {key}: {item!r}")
        if not isinstance(item["id"], int) or isinstance(item["id"], bool):
            raise BadFigshareInput(f"file id {item['id']!r} is not a number")
        if not isinstance(item["size"], int) or item["size"] < 0:
            raise BadFigshareInput(f"file {item['id']} has size "
                                   f"{item['size']!r}")
        # computed_md5 is figshare's own hash of the bytes it serves;
        # supplied_md5 is what the uploader said
        md5 = item.get("computed_md5") or item.get("supplied_md5") or ""
        if not isinstance(md5, str) or not re.fullmatch(r"[0-9a-f]{32}", md5):
            raise BadFigshareInput(f"file {item['id']} has no md5")
        files.append({**item, "md5": md5})
    return files
