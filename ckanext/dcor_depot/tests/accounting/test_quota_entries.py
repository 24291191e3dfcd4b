"""Quotas at every entry that adds bytes (issue 26, item 2), besides
resource_upload_s3_urls (test_quota.py): files that come with
resource_create, resource_update and package_revise, append-resource and
import-figshare are refused with the one line before a byte is stored;
migration is never refused but reported; two uploads at once never both
pass; a quota lock that cannot be taken answers 503 (API) or a non-zero
exit (CLI), with one line."""
import concurrent.futures
import io
import json
import re
import threading

import pytest
import requests
from redis import ConnectionPool

import ckan.lib.redis as ckan_redis
import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot.cli import depot as depot_cli
from ckanext.dcor_depot.cli import migrate as migrate_cli

from ..conftest import _free_port, ckan_command
from ..figshare.test_importer import figshare, run as run_figshare  # noqa: F401,E501
from ..helpers import (ask_urls, files_below, make_circle_and_user,
                       upload_resource)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def set_quota(circle_id, quota_bytes):
    tk.get_action("circle_quota_update")(
        {"ignore_auth": True}, {"id": circle_id, "quota_bytes": quota_bytes})


def resources_of(dataset_id):
    return tk.get_action("package_show")({"ignore_auth": True},
                                         {"id": dataset_id})["resources"]


def post_file(app, token, action, data: bytes, status, **fields):
    response = app.post(
        f"/api/3/action/{action}",
        data={**fields, "upload": (io.BytesIO(data), "cells.rtdc")},
        headers={"Authorization": token},
        content_type="multipart/form-data")
    assert response.status_code == status, response.body
    return response.json


def refusal(circle, held, quota, size):
    return (f"not accepted: circle {circle['name']} holds {held} of its "
            f"{quota} quota, and this file has {size}")


def error_lines(stderr):
    """What a command wrote to stderr, without the log records (this test
    site logs, e.g. the development-only no-Solr switch)."""
    return [line for line in stderr.strip().splitlines()
            if not re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ", line)]


@pytest.fixture
def cli_apart(cli):
    """CKAN's CLI runner with stderr kept apart from stdout (click 8.2
    always does; before, only with mix_stderr off)."""
    if hasattr(cli, "mix_stderr"):
        cli.mix_stderr = False
    return cli


@pytest.fixture
def redis_down(monkeypatch):
    """CKAN's Redis connections go to a port where nothing listens (a
    real refused connection, as when Redis is stopped)."""
    monkeypatch.setattr(ckan_redis, "_connection_pool", ConnectionPool.from_url(
        f"redis://127.0.0.1:{_free_port()}/0", socket_connect_timeout=2))


def test_resource_create_with_a_file_is_refused_before_it_is_stored(
        app, dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    set_quota(circle["id"], 10_000)
    first = upload_resource(app, token, dataset["id"], b"a" * 6000)
    # the file counts while the jobs have not put it into the bucket yet,
    # at every entry
    stored = files_below(dcor_paths["storage_path"])
    body = post_file(app, token, "resource_create", b"b" * 5000, 409,
                     package_id=dataset["id"], name="second.rtdc")
    assert body["error"]["upload"] == [
        refusal(circle, "6.0 kB", "10.0 kB", "5.0 kB")]
    assert ask_urls(app, token, circle["id"], 5000, status=409)["error"][
        "file_size"] == [refusal(circle, "6.0 kB", "10.0 kB", "5.0 kB")]
    assert [r["id"] for r in resources_of(dataset["id"])] == [first["id"]]
    assert files_below(dcor_paths["storage_path"]) == stored
    # a size the request claims does not count: the file's does
    body = post_file(app, token, "resource_create", b"c" * 5000, 409,
                     package_id=dataset["id"], name="small.rtdc", size=1)
    assert "this file has 5.0 kB" in body["error"]["upload"][0]
    # what fits is accepted, with the file's own size
    fits = post_file(app, token, "resource_create", b"d" * 4000, 200,
                     package_id=dataset["id"], name="fits.rtdc", size=1)
    assert fits["result"]["size"] == 4000
    # a link adds no bytes and needs no room
    link = app.post("/api/3/action/resource_create", json={
        "package_id": dataset["id"], "url": "https://example.org/x"},
        headers={"Authorization": token})
    assert link.status_code == 200, link.body


def test_resource_update_and_package_revise_with_a_file_are_refused(
        app, dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    link = app.post("/api/3/action/resource_create", json={
        "package_id": dataset["id"], "url": "https://example.org/x"},
        headers={"Authorization": token}).json["result"]
    set_quota(circle["id"], 1000)
    body = post_file(app, token, "resource_update", b"u" * 1500, 409,
                     id=link["id"])
    assert body["error"]["upload"] == [
        refusal(circle, "0 bytes", "1.0 kB", "1.5 kB")]
    body = post_file(app, token, "resource_patch", b"u" * 1500, 409,
                     id=link["id"])
    assert body["error"]["upload"] == [
        refusal(circle, "0 bytes", "1.0 kB", "1.5 kB")]
    response = app.post(
        "/api/3/action/package_revise",
        data={"match": json.dumps({"id": dataset["id"]}),
              "update__resources__extend": json.dumps([{"name": "new"}]),
              "update__resources__-1__upload": (io.BytesIO(b"r" * 1500),
                                                "new.rtdc")},
        headers={"Authorization": token}, content_type="multipart/form-data")
    assert response.status_code == 409, response.body
    assert refusal(circle, "0 bytes", "1.0 kB", "1.5 kB") in \
        response.body
    [kept] = resources_of(dataset["id"])
    assert kept["id"] == link["id"] and not kept["url_type"]
    assert files_below(dcor_paths["storage_path"]) == []
    # within the quota, package_revise stores the file
    response = app.post(
        "/api/3/action/package_revise",
        data={"match": json.dumps({"id": dataset["id"]}),
              "update__resources__extend": json.dumps([{"name": "new"}]),
              "update__resources__-1__upload": (io.BytesIO(b"r" * 900),
                                                "new.rtdc")},
        headers={"Authorization": token}, content_type="multipart/form-data")
    assert response.status_code == 200, response.body
    assert len(files_below(dcor_paths["storage_path"])) == 1
    # and that file counts before the jobs have stored it
    body = post_file(app, token, "resource_create", b"s" * 200, 409,
                     package_id=dataset["id"], name="more.rtdc")
    assert body["error"]["upload"] == [
        refusal(circle, "900 bytes", "1.0 kB", "200 bytes")]


def test_two_uploads_at_once_never_both_pass(deployment):
    site = deployment(processes=2, threads=4, workers=0)
    user, circle, dataset, token = make_circle_and_user()
    set_quota(circle["id"], 1000)
    start = threading.Barrier(8)

    def create(number):
        start.wait()
        return requests.post(
            f"{site.url}/api/3/action/resource_create",
            data={"package_id": dataset["id"], "name": f"f{number}.rtdc"},
            files={"upload": (f"f{number}.rtdc", b"p" * 600)},
            headers={"Authorization": token}, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 7, [a.text[:300] for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["error"]["upload"] == [
            refusal(circle, "600 bytes", "1.0 kB", "600 bytes")]
    assert len(resources_of(dataset["id"])) == 1


def test_quota_lock_unavailable_answers_503_with_one_line(app, redis_down,
                                                          dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    set_quota(circle["id"], 10_000)
    for action, fields in (
            ("resource_create", {"package_id": dataset["id"]}),
            ("resource_upload_s3_urls", None),
            ("resource_upload_multipart_create", None)):
        if action == "resource_upload_multipart_create":
            response = app.post(f"/api/3/action/{action}", json={
                "package_id": dataset["id"], "name": "x.rtdc",
                "file_size": 10}, headers={"Authorization": token})
        elif fields is None:
            response = app.post(f"/api/3/action/{action}", json={
                "organization_id": circle["id"], "file_size": 10},
                headers={"Authorization": token})
        else:
            response = app.post(
                f"/api/3/action/{action}",
                data={**fields, "upload": (io.BytesIO(b"x" * 10), "x.rtdc")},
                headers={"Authorization": token},
                content_type="multipart/form-data")
        assert response.status_code == 503, response.body
        message = response.json["error"]["message"]
        assert "\n" not in message
        assert message.startswith(
            f"not accepted now: the quota of circle {circle['name']} cannot "
            "be checked (")
        assert response.headers["Retry-After"] == "30"
    assert resources_of(dataset["id"]) == []
    assert files_below(dcor_paths["storage_path"]) == []


@pytest.mark.ckan_config("ckanext.dcor_depot.circle_quota_bytes", 0)
def test_without_a_quota_uploads_do_not_need_redis(app, redis_down,
                                                   dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    post_file(app, token, "resource_create", b"x" * 10, 200,
              package_id=dataset["id"], name="x.rtdc")


def test_append_resource_is_refused_beyond_the_quota(worker_ini, tmp_path,
                                                     dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    set_quota(circle["id"], 1000)
    source = tmp_path / "big.rtdc"
    source.write_bytes(b"s" * 1500)
    result = ckan_command(worker_ini, "append-resource", source,
                          dataset["id"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert error_lines(result.stderr) == [
        "Error: " + refusal(circle, "0 bytes", "1.0 kB", "1.5 kB")]
    assert resources_of(dataset["id"]) == []
    assert files_below(dcor_paths["depots_path"]) == []
    assert files_below(dcor_paths["storage_path"]) == []
    # a file that fits is appended; then the circle holds it
    small = tmp_path / "small.rtdc"
    small.write_bytes(b"s" * 600)
    result = ckan_command(worker_ini, "append-resource", small,
                          dataset["id"])
    assert result.returncode == 0, result.stderr
    again = ckan_command(worker_ini, "append-resource", source,
                         dataset["id"])
    assert again.returncode == 1
    assert error_lines(again.stderr) == [
        "Error: " + refusal(circle, "600 bytes", "1.0 kB", "1.5 kB")]
    # a re-run of the done append adds nothing and passes
    rerun = ckan_command(worker_ini, "append-resource", small, dataset["id"])
    assert rerun.returncode == 0, rerun.stderr
    assert "already present" in rerun.stdout


def test_append_resource_with_redis_down_exits_with_one_line(
        cli_apart, tmp_path, redis_down, dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    set_quota(circle["id"], 1000)
    source = tmp_path / "cells.rtdc"
    source.write_bytes(b"s" * 10)
    result = cli_apart.invoke(depot_cli.append_resource,
                              [str(source), dataset["id"]])
    assert result.exit_code == 1, result.output
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(
        f"Error: not accepted now: the quota of circle {circle['name']} "
        "cannot be checked ("), result.stderr
    assert resources_of(dataset["id"]) == []
    assert files_below(dcor_paths["depots_path"]) == []


@pytest.mark.ckan_config("ckanext.dcor_depot.circle_quota_bytes", 1000)
def test_import_figshare_is_refused_beyond_the_quota(cli_apart,
                                                     figshare,  # noqa
                                                     dcor_paths):
    cli = cli_apart
    small = figshare.add(5001, 1, [("a.rtdc", b"a" * 400, {}),
                                   ("b.rtdc", b"b" * 300, {})])
    big = figshare.add(5002, 1, [("c.rtdc", b"c" * 200, {}),
                                 ("d.rtdc", b"d" * 200, {})])
    result = run_figshare(cli, "--doi", small)
    assert result.exit_code == 0, result.output
    hits = sum(figshare.hits.values())
    refused = run_figshare(cli, "--doi", big)
    assert refused.exit_code == 1, refused.output
    assert error_lines(refused.stderr) == [
        f"{big}: failed: not accepted: circle figshare-import holds "
        "700 bytes of its 1.0 kB quota, and this file has 400 bytes"]
    # the article was read, nothing of it downloaded or made
    assert sum(figshare.hits.values()) == hits + 1
    with pytest.raises(tk.ObjectNotFound):
        tk.get_action("package_show")({"ignore_auth": True},
                                      {"id": "figshare-5002-v1"})
    assert not (dcor_paths["depots_path"] / "figshare" /
                "figshare-5002-v1").exists()
    # a re-run of the imported article adds no bytes and passes
    again = run_figshare(cli, "--doi", small)
    assert again.exit_code == 0, again.output


def test_migration_is_never_refused_but_reported_over_quota(
        cli_apart, app, s3_client, dcor_paths):
    cli = cli_apart
    user, circle, dataset, token = make_circle_and_user()
    other_user, other, other_dataset, other_token = make_circle_and_user()
    for number in range(3):
        upload_resource(app, token, dataset["id"], b"m" * 1000,
                        name=f"m{number}.rtdc")
    upload_resource(app, other_token, other_dataset["id"], b"o" * 100)
    # quotas set after the files came (a site that adopts quotas)
    set_quota(circle["id"], 2000)
    set_quota(other["id"], 2000)
    result = cli.invoke(migrate_cli.migrate_resources, [])
    assert result.exit_code == 0, result.output
    assert "migrated 4, skipped 0, failed 0" in result.output
    assert result.stdout.strip().splitlines()[-1] == (
        f"over quota: circle {circle['name']} holds 3.0 kB of its 2.0 kB "
        "quota (1.0 kB over)")
    assert other["name"] not in result.stdout
    assert all(r["s3_available"] for r in resources_of(dataset["id"]))
