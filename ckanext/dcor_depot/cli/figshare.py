"""`ckan import-figshare` (alias `dcor-import-figshare`)."""
from __future__ import annotations

import importlib.resources

import click

from .. import config as dcor_config
from .. import naming
from ..accounting import quota
from ..figshare import metadata
from ..figshare.client import FigshareClient, FigshareError
from ..figshare.importer import UnsafeCircleError, ensure_circle, import_doi
from ..storage import depot


def _dois(dois: tuple[str, ...], doi_file: str | None) -> list[str]:
    if doi_file:
        try:
            with open(doi_file, encoding="utf-8") as handle:
                return metadata.read_doi_lines(handle.read())
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(
                f"cannot read DOI file {doi_file}: {exc}") from None
    if dois:
        return list(dois)
    shipped = importlib.resources.files("ckanext.dcor_depot").joinpath(
        "figshare_dois.txt").read_text()
    return metadata.read_doi_lines(shipped)


@click.command("import-figshare")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Import at most N DOIs.")
@click.option("--doi", "dois", multiple=True, help="A figshare DOI.")
@click.option("--doi-file", type=str, default=None,
              help="A file with one DOI per line.")
def import_figshare(limit, dois, doi_file):
    """Mirror figshare reference data sets into the figshare-import circle."""
    todo = _dois(dois, doi_file)[:limit]
    try:
        ensure_circle()  # once, before anything is fetched
    except UnsafeCircleError as exc:
        raise click.ClickException(str(exc)) from None
    client = FigshareClient(dcor_config.figshare_api_url(),
                            max_attempts=dcor_config.figshare_max_attempts())
    failed = imported = 0
    for doi in todo:
        try:
            result = import_doi(doi, client, echo=click.echo)
        except (metadata.BadFigshareInput, naming.UnsafeNameError,
                FigshareError, UnsafeCircleError, depot.DepotError,
                quota.QuotaExceeded, quota.QuotaUnavailable,
                OSError) as exc:
            failed += 1
            click.echo(f"{doi}: failed: {exc}", err=True)
            continue
        imported += 1
        click.echo(f"{doi}: {result.dataset_name} ({result.downloaded} "
                   f"downloaded, {result.skipped} already there)")
    click.echo(f"{imported} imported, {failed} failed of {len(todo)} DOIs")
    if failed:
        raise SystemExit(1)


dcor_import_figshare = click.Command(
    "dcor-import-figshare", params=import_figshare.params,
    callback=import_figshare.callback, help=import_figshare.help)

COMMANDS = [import_figshare, dcor_import_figshare]
