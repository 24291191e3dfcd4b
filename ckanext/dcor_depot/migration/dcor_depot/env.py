"""Alembic environment of the dcor_depot plugin.

CKAN passes the site's sqlalchemy.url. The plugin keeps its migration state
in its own version table, dcor_depot_alembic_version, and only ever touches
tables whose names start with dcor_depot.
"""
from __future__ import annotations

import logging.config
import os

from alembic import context
from sqlalchemy import engine_from_config, pool

PLUGIN = os.path.basename(os.path.dirname(os.path.abspath(__file__)))
VERSION_TABLE = f"{PLUGIN}_alembic_version"

if context.config.config_file_name:
    logging.config.fileConfig(context.config.config_file_name,
                              disable_existing_loggers=False)


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    return type_ != "table" or name.startswith(PLUGIN)


def _run_offline() -> None:
    context.configure(url=context.config.get_main_option("sqlalchemy.url"),
                      literal_binds=True, version_table=VERSION_TABLE,
                      include_object=_ours)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    engine = engine_from_config(
        context.config.get_section(context.config.config_ini_section),
        prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, version_table=VERSION_TABLE,
                          include_object=_ours)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
