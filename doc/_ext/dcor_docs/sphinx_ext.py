"""Sphinx extension: writes the generated reference pages before Sphinx
reads the sources, and checks CHANGELOG.rst against setup.cfg. Every
problem (a key without a description, an action without a full
docstring, a command without help, a changelog out of step) is a
warning; scripts/docs.sh builds with -W, so a problem fails the build."""
from __future__ import annotations

import pathlib

from sphinx.application import Sphinx
from sphinx.util import logging

from . import changelog, reference

logger = logging.getLogger(__name__)


def _write_reference(app: Sphinx) -> None:
    source = pathlib.Path(app.srcdir)
    for problem in reference.generate(source / "reference"):
        logger.warning(problem, type="dcor_docs", subtype="reference")
    repo = source.parent
    for problem in changelog.problems(
            (repo / "CHANGELOG.rst").read_text(encoding="utf-8"),
            changelog.setup_cfg_version(repo / "setup.cfg")):
        logger.warning(problem, type="dcor_docs", subtype="changelog")


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _write_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
