"""/metrics in Prometheus' text format (issue 26, item 4): who may read
it, the series, and the alert rules and dashboard in deploy/."""
import json
import pathlib
import re

import pytest
import yaml

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ..helpers import make_circle_and_user, upload_resource
from .common import TOKEN, samples, value

DEPLOY = pathlib.Path(__file__).parents[4] / "deploy"

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.ckan_config("ckanext.dcor_depot.metrics_token", TOKEN),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def scrape(app, authorization=TOKEN, status=200, bearer=True):
    headers = {"Authorization": f"Bearer {authorization}" if bearer
               else authorization} if authorization else {}
    response = app.get("/metrics", headers=headers)
    assert response.status_code == status, response.body
    assert response.headers["Cache-Control"] == "private, no-store"
    return response


def test_only_the_token_or_a_sysadmin_reads_the_metrics(app):
    user, circle, dataset, token = make_circle_and_user()
    scrape(app, None, status=403)
    scrape(app, "wrong", status=403)
    scrape(app, token, status=403, bearer=False)  # a circle's admin
    sysadmin = factories.Sysadmin()
    admin_token = factories.APIToken(user=sysadmin["name"])["token"]
    scrape(app, admin_token, bearer=False)
    response = scrape(app)
    assert response.headers["Content-Type"].startswith(
        "text/plain; version=")
    assert response.headers["Content-Type"].count("charset") == 1


@pytest.mark.ckan_config("ckanext.dcor_depot.metrics_token", "")
def test_an_empty_token_opens_nothing(app):
    scrape(app, "", status=403)
    scrape(app, "anything", status=403)


@pytest.mark.ckan_config("ckanext.dcor_depot.circle_quota_bytes", 10**9)
def test_series_follow_the_jobs_and_the_queue(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    before = samples(scrape(app).body)
    upload_resource(app, token, dataset["id"], b"m" * 2500)
    queued = samples(scrape(app).body)
    queues = {dict(labels)["queue"] for name, labels in queued
              if name == "dcor_depot_queue_jobs"}
    assert tk.config.get("ckanext.dcor_depot.jobs_queue") in queues
    assert not any(":" in queue for queue in queues)  # no key prefix
    assert any(name == "dcor_depot_queue_jobs" and v >= 1
               for (name, _), v in queued.items())
    assert any(name == "dcor_depot_oldest_job_age_seconds" and v > 0
               for (name, _), v in queued.items())
    assert value(queued, "dcor_depot_resources_pending", step="s3") == 1
    run_worker()
    after = samples(scrape(app).body)
    assert value(after, "dcor_depot_circle_bytes", circle=circle["name"],
                 artifact="resource") == 2500
    assert value(after, "dcor_depot_circle_files", circle=circle["name"],
                 artifact="resource") == 1
    assert value(after, "dcor_depot_circle_quota_bytes",
                 circle=circle["name"]) == 10**9
    assert value(after, "dcor_depot_resources_pending", step="s3") == 0
    runs = "dcor_depot_job_duration_seconds_count"
    assert value(after, runs, step="s3") == value(before, runs, step="s3") + 1
    assert value(after, runs, step="depot") == \
        value(before, runs, step="depot") + 1
    assert all(v == 0 for (name, _), v in after.items()
               if name == "dcor_depot_queue_jobs")


def test_alert_rules_and_dashboard_name_existing_series(app):
    scraped = samples(scrape(app).body)
    exposed = {name for name, _ in scraped} | {
        "dcor_depot_integrity_errors_total", "dcor_depot_downloads_total",
        "dcor_depot_archive_bytes_total", "dcor_depot_job_failures_total",
        "dcor_depot_job_duration_seconds_bucket"}
    # counters without a count yet have no sample: they must be declared
    text = scrape(app).body
    declared = set(re.findall(r"^# TYPE (\S+) (\S+)", text, re.M))
    for name, kind in declared:
        exposed.add(name + ("_total" if kind == "counter" else ""))
        if kind == "histogram":
            exposed |= {name + s for s in ("_bucket", "_sum", "_count")}

    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    alerts = {rule["alert"]: rule["expr"]
              for group in rules["groups"] for rule in group["rules"]}
    assert {"DCORDepotFailedJobs", "DCORDepotJobsWaitTooLong",
            "DCORDepotIntegrityErrors",
            "DCORDepotCircleOver95Percent"} <= set(alerts)
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"]
               for target in panel["targets"]]
    assert len(queries) >= 10
    for expr in [*alerts.values(), *queries]:
        names = set(re.findall(r"\bdcor_depot_[a-z_]+", expr))
        assert names, expr
        assert names <= exposed, (expr, names - exposed)
