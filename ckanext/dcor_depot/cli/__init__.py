"""`ckan` commands of ckanext-dcor_depot, registered through IClick."""
from __future__ import annotations

import functools

import click

from ..audit import acting_as
from ..audit.rules import cli_actor


def _acting(command: click.Command, prefix: str = "") -> click.Command:
    """The events a command records are by `cli:<command>`."""
    name = f"{prefix}{command.name}"
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _acting(sub, f"{name} ")
    elif command.callback is not None and \
            not getattr(command.callback, "_dcor_audit_actor", False):
        callback = command.callback

        @functools.wraps(callback)
        def run(*args, **kwargs):
            with acting_as(cli_actor(name)):
                return callback(*args, **kwargs)
        run._dcor_audit_actor = True  # type: ignore[attr-defined]
        command.callback = run
    return command


def get_commands() -> list[click.Command]:
    from . import depot, figshare, maintenance, migrate, visibility
    from . import audit, doctor, fixity, usage, worker

    return [_acting(command) for command in [
        *depot.COMMANDS, *migrate.COMMANDS, *maintenance.COMMANDS,
            *figshare.COMMANDS, *visibility.COMMANDS, *doctor.COMMANDS,
            *usage.COMMANDS, *worker.COMMANDS,
        *audit.COMMANDS, *fixity.COMMANDS]]
