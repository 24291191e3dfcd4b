"""Writes the generated reference pages into a folder."""
from __future__ import annotations

import pathlib

from . import actions_page, commands_page, config_page, sources


def pages(declaration: pathlib.Path = config_page.DECLARATION_FILE
          ) -> dict[str, tuple[str, list[str]]]:
    """Each page's text and problems, read from the installed code."""
    plugin = sources.plugin()
    return {
        "config.rst": config_page.config_page(declaration),
        "api.rst": actions_page.actions_page(plugin),
        "commands.rst": commands_page.commands_page(
            plugin.get_commands(), sources.console_scripts()),
    }


def generate(folder: pathlib.Path,
             declaration: pathlib.Path = config_page.DECLARATION_FILE
             ) -> list[str]:
    """Write the pages into folder (a page whose text did not change is
    left alone, so Sphinx does not read it again); return the problems."""
    folder.mkdir(parents=True, exist_ok=True)
    problems = []
    for name, (text, found) in pages(declaration).items():
        problems += found
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return problems
