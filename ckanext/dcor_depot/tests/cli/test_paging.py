"""The maintenance commands page through the site (issue 26, item 5): with
`maintenance_page_size` 2 and 5 resources, each reads the database in
keyset pages of 2 rows and lists the bucket in pages of 2 keys, and ends
with a summary that counts every resource, object or file it looked at.

Database queries are seen through SQLAlchemy's cursor events and S3
listings through botocore's events on the very client the commands use;
nothing is replaced.
"""
import math

import pytest
import sqlalchemy as sa

import ckan.model as model

from ckanext.dcor_depot.cli import depot, maintenance, usage, visibility
from ckanext.dcor_depot.storage import s3

from ..conftest import circle_bucket
from ..helpers import make_circle_and_user, upload_resource

PAGE = 2
RESOURCES = 5

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.ckan_config("ckanext.dcor_depot.maintenance_page_size",
                            str(PAGE)),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


@pytest.fixture
def site(app, run_worker, s3_client):
    """One circle with RESOURCES stored resources (depot file, CKAN's
    symlink, object and its record), all steps done."""
    user, circle, dataset, token = make_circle_and_user()
    for n in range(RESOURCES):
        upload_resource(app, token, dataset["id"], b"cells" * (n + 1),
                        name=f"cells-{n}.rtdc")
    run_worker()
    return circle


@pytest.fixture
def resource_pages():
    """The LIMITs of the queries that read the site's resources joined
    with their datasets, as the commands send them."""
    limits = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.split())
        if text.startswith("SELECT resource.id, resource.package_id") and \
                "JOIN package" in text and "LIMIT" in text:
            limits.append(_limit(parameters))
    sa.event.listen(model.meta.engine, "before_cursor_execute", seen)
    yield limits
    sa.event.remove(model.meta.engine, "before_cursor_execute", seen)


def _limit(parameters) -> int:
    values = parameters.values() if isinstance(parameters, dict) \
        else parameters
    return [v for v in values if isinstance(v, int)][-1]


@pytest.fixture
def listings():
    """(bucket, MaxKeys, keys returned) of every ListObjectsV2 call the
    commands' S3 client makes."""
    calls = []
    client = s3.get_client()

    def after(http_response, parsed, model, **kwargs):
        calls.append((parsed.get("Name"), parsed.get("MaxKeys"),
                      parsed.get("KeyCount", len(parsed.get("Contents", [])))))
    client.meta.events.register("after-call.s3.ListObjectsV2", after)
    yield calls
    client.meta.events.unregister("after-call.s3.ListObjectsV2", after)


def _pages_of(calls, bucket):
    return [(max_keys, count) for name, max_keys, count in calls
            if name == bucket]


def _expected_pages():
    full, rest = divmod(RESOURCES, PAGE)
    return [(PAGE, PAGE)] * full + ([(PAGE, rest)] if rest else [])


def _summary(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_run_jobs_reads_resources_in_pages(cli, site, resource_pages):
    result = cli.invoke(depot.run_jobs_dcor_depot, [])
    assert result.exit_code == 0, result.output
    assert _summary(result.output) == \
        f"checked {RESOURCES} resources: 0 steps completed, 0 failed"
    # three pages with rows and the empty one that ends the walk
    assert resource_pages == [PAGE] * (math.ceil(RESOURCES / PAGE) + 1)


def test_verify_reads_resources_in_pages(cli, site, resource_pages):
    result = cli.invoke(maintenance.depot_verify, [])
    assert result.exit_code == 0, result.output
    assert _summary(result.output) == \
        f"checked {RESOURCES} resources: 0 problems"
    assert resource_pages == [PAGE] * (math.ceil(RESOURCES / PAGE) + 1)


def test_orphans_lists_the_bucket_in_pages(cli, site, listings):
    result = cli.invoke(maintenance.depot_orphans, ["--min-age-hours", "0"])
    assert result.exit_code == 0, result.output
    assert _pages_of(listings, circle_bucket(site["id"])) == \
        _expected_pages()
    # each object and each depot file once
    assert _summary(result.output) == (
        f"checked {2 * RESOURCES} objects and files: 0 orphans found, 0 "
        "removed, 0 other objects and files left alone")


def test_reconcile_visibility_lists_in_pages(cli, site, listings):
    result = cli.invoke(visibility.reconcile_visibility_command, [])
    assert result.exit_code == 0, result.output
    assert _pages_of(listings, circle_bucket(site["id"])) == \
        _expected_pages()
    assert f"checked {RESOURCES} objects in " in _summary(result.output)
    assert _summary(result.output).endswith(
        ": 0 with a wrong public tag, fixed 0")


def test_usage_reconcile_lists_in_pages(cli, site, listings):
    result = cli.invoke(usage.depot_usage, ["--reconcile"])
    assert result.exit_code == 0, result.output
    assert _pages_of(listings, circle_bucket(site["id"])) == \
        _expected_pages()
    assert f"reconciled 1 circles, {RESOURCES} objects listed: 0 circles " \
        "had drift, +0 bytes in all; drift now 0" in result.output


def test_verify_and_reconcile_report_each_problem_once_in_order(
        cli, site, s3_client):
    """The checks of a page run in threads: each resource's problems are
    still reported once, with the right resource, and the fix is made."""
    bucket = circle_bucket(site["id"])
    keys = sorted(item["Key"] for item in s3_client.list_objects_v2(
        Bucket=bucket)["Contents"])
    gone, public = keys[0], keys[-1]
    s3_client.delete_object(Bucket=bucket, Key=gone)
    tags = s3_client.get_object_tagging(Bucket=bucket, Key=public)["TagSet"]
    s3_client.put_object_tagging(Bucket=bucket, Key=public, Tagging={
        "TagSet": tags + [{"Key": "public", "Value": "true"}]})

    result = cli.invoke(maintenance.depot_verify, [])
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines()
                if line.count(": ") and not line.startswith("checked")
                and not line.startswith("resources")]
    gone_rid = "".join(gone.split("/")[1:])
    public_rid = "".join(public.split("/")[1:])
    assert sorted(problems) == sorted([
        f"{gone_rid}: no object s3://{bucket}/{gone}",
        f"{public_rid}: object is public but should be private"])
    assert _summary(result.output) == \
        f"checked {RESOURCES} resources: 2 problems"

    fixed = cli.invoke(visibility.reconcile_visibility_command, [])
    assert fixed.exit_code == 0, fixed.output
    assert f"s3://{bucket}/{public}: made private" in fixed.output
    assert _summary(fixed.output).endswith(
        ": 1 with a wrong public tag, fixed 1")
    assert {"Key": "public", "Value": "true"} not in \
        s3_client.get_object_tagging(Bucket=bucket, Key=public)["TagSet"]
