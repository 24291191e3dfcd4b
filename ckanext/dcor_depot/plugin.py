"""CKAN entry point: wires hooks to the modules that do the work."""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import config as dcor_config
from .cli import get_commands


@tk.blanket.config_declarations
@tk.blanket.cli(get_commands)
class DCORDepotPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurable, inherit=True)

    # IConfigurable
    def configure(self, config):
        dcor_config.check_config(config)
