"""Where the generated pages read the code: the plugin through this
distribution's ``ckan.plugins`` entry point (as CKAN loads it) and the
distribution's console scripts. Nothing is listed by hand."""
from __future__ import annotations

import importlib.metadata
from typing import Any

DISTRIBUTION = "ckanext-dcor_depot"
PLUGIN_NAME = "dcor_depot"


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    dist = importlib.metadata.distribution(DISTRIBUTION)
    return sorted((ep for ep in dist.entry_points if ep.group == group),
                  key=lambda ep: ep.name)


def plugin() -> Any:
    """The dcor_depot plugin object, whose ``tk.blanket`` maps (actions,
    auth functions, commands) are the ones CKAN registers."""
    for ep in _entry_points("ckan.plugins"):
        if ep.name == PLUGIN_NAME:
            return ep.load()()
    raise LookupError(f"{DISTRIBUTION} has no ckan.plugins entry point "
                      f"{PLUGIN_NAME}: is it installed (pip install -e .)?")


def console_scripts() -> dict[str, Any]:
    """Every console script of the distribution: name -> its object."""
    return {ep.name: ep.load() for ep in _entry_points("console_scripts")}
