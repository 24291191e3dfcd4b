"""Stepping aside: where another loaded plugin (e.g. an older DCOR
extension) already provides an action or auth function of the same name,
ours is left out, so that both can be loaded."""
from __future__ import annotations

import ckan.plugins as p

PLUGIN_NAME = "dcor_depot"


def provided_by_another_plugin(interface, getter: str, name: str) -> bool:
    ours = p.get_plugin(PLUGIN_NAME)
    return any(name in getattr(plugin, getter)()
               for plugin in p.PluginImplementations(interface)
               if plugin is not ours)
