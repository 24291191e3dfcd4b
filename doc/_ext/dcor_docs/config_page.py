"""The configuration reference: every key of config_declaration.yaml.

The file is read by CKAN's own declaration loader (the one the plugin's
``tk.blanket.config_declarations`` feeds), so the defaults and validators
shown are the ones CKAN applies, and a file CKAN would reject fails the
build as well. The groups and their order come from the file itself.
"""
from __future__ import annotations

import pathlib
from typing import Any

import yaml

import ckanext.dcor_depot as _package

from . import rst

# the file tk.blanket.config_declarations loads, beside the plugin module
DECLARATION_FILE = pathlib.Path(_package.__file__).with_name(
    "config_declaration.yaml")

# CKAN's option types (`type:` in the file) and what an operator writes
TYPE_NAMES = {"base": "string", "bool": "boolean", "int": "integer",
              "float": "number", "list": "list (separated by spaces)",
              "dynamic": "dynamic"}

INTRO = """\
Every key the extension reads is declared in
``ckanext/dcor_depot/config_declaration.yaml``; this page is generated
from that file at every docs build, and a key without a description
fails the build. ``ckan config declaration dcor_depot`` prints the same
keys as an ini template. A wrong value stops CKAN at start-up with a
one-line message naming the key. While either S3 key is unset the plugin
loads and all S3 work is off.

"""


def _declaration(data: dict[str, Any]):
    from ckan.config.declaration import Declaration

    declaration = Declaration()
    declaration.load_dict(data)
    return declaration


def _default(option) -> str:
    if option.default is None:
        return "none"
    return rst.literal(option.str_value())


def _option_block(item: dict[str, Any], option) -> str:
    key = item["key"]
    validators = option.get_validators()
    kind = TYPE_NAMES.get(item.get("type") or "base", item.get("type"))
    kind += f" (validators: ``{validators}``)" if validators else ""
    body = option.description.strip() + "\n\n"
    if option.example is not None:
        body += ("Example:\n\n.. code-block:: ini\n\n"
                 f"   {key} = {option.example}\n\n")
    return (f".. confval:: {key}\n   :type: {kind}\n"
            f"   :default: {_default(option)}\n\n" + rst.indent(body))


def config_page(path: pathlib.Path = DECLARATION_FILE
                ) -> tuple[str, list[str]]:
    """The page's text and its problems (keys without a description)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    declaration = _declaration(data)
    problems = []
    out = [rst.GENERATED_NOTE, "\n", rst.label("config-reference"),
           rst.heading("Configuration reference", 0), INTRO]
    for group in data.get("groups") or []:
        out.append(rst.heading(group.get("annotation") or "Other keys", 1))
        for item in group.get("options") or []:
            option = declaration.get(item["key"])
            if not (option.description or "").strip():
                problems.append(f"{path}: {item['key']} has no description")
                continue
            out.append(_option_block(item, option))
    return "".join(out), problems
