"""Sphinx configuration of the docs site; scripts/docs.sh builds it (with
warnings as errors) and checks its links offline."""
import pathlib
import sys

DOC = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(DOC / "_ext"))

from dcor_docs import changelog  # noqa: E402

project = "ckanext-dcor_depot"
copyright = "the ckanext-dcor_depot authors"
release = version = changelog.setup_cfg_version(DOC.parent / "setup.cfg")

# dcor_docs.sphinx_ext writes reference/*.rst from the code at each build
extensions = ["dcor_docs.sphinx_ext"]
root_doc = "index"
exclude_patterns = ["_build", "_ext"]
# every cross-reference must resolve (config keys, actions, commands, pages)
nitpicky = True
# quotes and ellipses only: "--jobs" in running text stays two hyphens
smartquotes_action = "qe"

html_theme = "alabaster"
html_theme_options = {
    "description": "Where a DCOR site's research data lives, and how it "
                   "comes back out",
    "fixed_sidebar": True,
}
html_show_sourcelink = False

# linkcheck runs offline: every URL with a scheme (http, https, ftp, ...)
# is left unfetched; what remains are links to files of the docs, which
# Sphinx checks on disk. Cross-references are checked by the build itself
# (nitpicky), and the built HTML by dcor_docs.links.
linkcheck_ignore = [r"^[a-zA-Z][a-zA-Z0-9+.-]*:"]
