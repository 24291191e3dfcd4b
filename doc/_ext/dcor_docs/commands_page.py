"""The command reference: every ``ckan`` command the plugin registers
(``tk.blanket.cli``, i.e. its ``get_commands``) and every console script
of the distribution (``dcor-depot``), each with its ``--help`` as click
formats it for a terminal 80 columns wide.

A command or option without help text is a problem, and a problem fails
the build.
"""
from __future__ import annotations

from typing import Any, Iterator

import click

from . import rst

WIDTH = 80  # the width click's help is formatted for

INTRO = """\
This page is generated at every docs build from the commands themselves:
each block is exactly what ``--help`` prints. ``ckan`` commands run on
the site with its ini (``ckan -c /etc/ckan/default/ckan.ini COMMAND``);
``dcor-depot`` is the command-line client, installed with the package,
which talks only to a site's public HTTP API.

"""


def _context(command: click.Command, name: str,
             parent: click.Context | None) -> click.Context:
    # the command's own context_settings (e.g. help_option_names), as
    # click's make_context applies them; click 8.1 (CKAN 2.11) does not
    # take them from the command in Context() itself
    settings = {**(command.context_settings or {}),
                "terminal_width": WIDTH, "max_content_width": WIDTH}
    return click.Context(command, info_name=name, parent=parent, **settings)


def walk(command: click.Command, name: str,
         parent: click.Context | None = None
         ) -> Iterator[tuple[click.Context, click.Command]]:
    """The command and, for a group, every visible sub-command below it,
    each with the context that gives it its full name ("ckan x y")."""
    ctx = _context(command, name, parent)
    yield ctx, command
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, sub_name, ctx)


def ckan_root() -> click.Context:
    """A stand-in for CKAN's own ``ckan`` group: only its name shows."""
    return _context(click.Group("ckan"), "ckan", None)


def command_problems(ctx: click.Context, command: click.Command) -> list[str]:
    path = ctx.command_path
    problems = []
    if not (command.help or "").strip():
        problems.append(f"command {path} has no help text (docstring)")
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and \
                not (param.help or "").strip():
            problems.append(f"command {path}: option {param.opts[0]} has "
                            "no help text")
    return problems


def _block(ctx: click.Context, command: click.Command) -> str:
    slug = ctx.command_path.replace(" ", "-")
    return (rst.label(f"cli-{slug}") +
            rst.heading(f"``{ctx.command_path}``", 2) +
            rst.code_block(command.get_help(ctx)))


def commands_page(ckan_commands: list[click.Command],
                  scripts: dict[str, Any]) -> tuple[str, list[str]]:
    """The page's text and its problems."""
    problems = []
    out = [rst.GENERATED_NOTE, "\n", rst.label("command-reference"),
           rst.heading("Command reference", 0), INTRO,
           rst.heading("``ckan`` commands", 1)]
    root = ckan_root()
    for command in sorted(ckan_commands, key=lambda c: c.name or ""):
        for ctx, sub in walk(command, command.name or "", root):
            problems += command_problems(ctx, sub)
            out.append(_block(ctx, sub))
    for script, command in sorted(scripts.items()):
        out.append(rst.heading(f"``{script}``", 1))
        if not isinstance(command, click.Command):
            problems.append(f"console script {script} is not a click "
                            "command; its help cannot be shown")
            continue
        for ctx, sub in walk(command, script):
            problems += command_problems(ctx, sub)
            out.append(_block(ctx, sub))
    return "".join(out), problems
