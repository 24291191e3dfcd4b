"""`ckan dcor-depot-usage`: storage per circle, and the reconcile of the
records with the buckets (for cron)."""
from __future__ import annotations

import click

from ..accounting import figures, reconcile, rules
from ..storage import s3


def _circles(names: tuple[str, ...]):
    every = figures.circles()
    if not names:
        return every
    known = {c.name: c for c in every} | {c.id: c for c in every}
    for name in names:
        if name not in known:
            raise click.ClickException(f"no such circle: {name}")
    return [known[name] for name in dict.fromkeys(names)]


@click.command("dcor-depot-usage")
@click.argument("circles", nargs=-1)
@click.option("--reconcile", "reconcile_", is_flag=True,
              help="List the circles' buckets page by page, correct the "
                   "records where they differ and report the drift in "
                   "bytes per circle (meant for cron).")
def depot_usage(circles, reconcile_):
    """Storage per circle (CIRCLES: names or ids; default: all), from the
    database; with --reconcile, checked against the object store first."""
    chosen = _circles(circles)
    if reconcile_:
        _reconcile(chosen)
    site = figures.site_figures()
    wanted = {c.id for c in chosen}
    for entry in site["circles"]:
        if entry["id"] not in wanted:
            continue
        split = ", ".join(
            f"{artifact} {rules.human_bytes(e['bytes'])}"
            for artifact, e in entry["by_artifact"].items() if e["files"])
        quota = rules.human_bytes(entry["quota_bytes"]) \
            if entry["quota_bytes"] else "none"
        click.echo(f"{entry['name']}: {rules.human_bytes(entry['used_bytes'])}"
                   f" used, {rules.human_bytes(entry['reserved_bytes'])} "
                   f"reserved, quota {quota}; {entry['datasets']} datasets, "
                   f"{entry['resources']} resources"
                   + (f" ({split})" if split else ""))
    totals = site["totals"]
    click.echo(f"site: {rules.human_bytes(totals['used_bytes'])} used by "
               f"{len(site['circles'])} circles")


def _reconcile(chosen) -> None:
    try:
        client = s3.get_client()
    except s3.S3NotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    drifts, listed = [], [0]
    with click.progressbar(chosen, label="circles",
                           item_show_func=lambda c: c.name if c else None
                           ) as bar:
        for circle in bar:
            drift = reconcile.reconcile_bucket(
                client, s3.bucket_for_circle(circle.id),
                on_page=lambda n: listed.__setitem__(0, listed[0] + n))
            drifts.append((circle, drift))
    off = [(c, d) for c, d in drifts if d.differences]
    for circle, drift in off:
        click.echo(f"{circle.name}: drift {drift.drift_bytes:+d} bytes "
                   f"({rules.signed_bytes(drift.drift_bytes)}) in "
                   f"{drift.differences} objects, corrected")
    total = sum(d.drift_bytes for _, d in drifts)
    click.echo(f"reconciled {len(drifts)} circles, {listed[0]} objects "
               f"listed: {len(off)} circles had drift, {total:+d} bytes in "
               f"all; drift now 0")


COMMANDS = [depot_usage]
