"""`ckan` commands of ckanext-dcor_depot, registered through IClick."""
from __future__ import annotations

import click


def get_commands() -> list[click.Command]:
    from . import depot, figshare, maintenance, migrate, visibility
    from . import doctor, fixity, usage, worker

    return [*depot.COMMANDS, *migrate.COMMANDS, *maintenance.COMMANDS,
            *figshare.COMMANDS, *visibility.COMMANDS, *doctor.COMMANDS,
            *usage.COMMANDS, *worker.COMMANDS, *fixity.COMMANDS]
