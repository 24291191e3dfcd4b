"""CHANGELOG.rst (Keep a Changelog, in reStructuredText) and the version
in setup.cfg: the newest release in the changelog is the package's
version, and "Unreleased" sits above it."""
from __future__ import annotations

import configparser
import datetime
import pathlib
import re

UNRELEASED = "Unreleased"
RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+) - (\d{4}-\d{2}-\d{2})$")


def sections(text: str) -> list[str]:
    """Titles of the second-level sections (underlined with ``-``)."""
    lines = text.splitlines()
    return [title.strip() for title, under in zip(lines, lines[1:])
            if title.strip() and re.fullmatch(r"-{3,}", under)
            and len(under) >= len(title.strip())]


def setup_cfg_version(path: pathlib.Path) -> str:
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    return parser.get("metadata", "version")


def problems(text: str, version: str) -> list[str]:
    """What is wrong with the changelog, given setup.cfg's version."""
    titles = sections(text)
    if not titles or titles[0] != UNRELEASED:
        return [f'CHANGELOG.rst: the first section must be "{UNRELEASED}"']
    found, bad = [], []
    for title in titles[1:]:
        match = RELEASE.match(title)
        if match is None:
            bad.append(f'CHANGELOG.rst: "{title}" is not '
                       '"MAJOR.MINOR.PATCH - YYYY-MM-DD"')
            continue
        try:
            day = datetime.date.fromisoformat(match[4])
        except ValueError:
            bad.append(f"CHANGELOG.rst: {title}: no such date")
            continue
        found.append((tuple(map(int, match.groups()[:3])), day, title))
    if bad or not found:
        return bad or ["CHANGELOG.rst has no release"]
    for newer, older in zip(found, found[1:]):
        if not (newer[0] > older[0] and newer[1] >= older[1]):
            bad.append(f"CHANGELOG.rst: {newer[2]} must be newer than "
                       f"{older[2]}")
    newest = ".".join(map(str, found[0][0]))
    if newest != version:
        bad.append(f"setup.cfg's version is {version}, the newest release "
                   f"in CHANGELOG.rst is {newest}")
    return bad
