"""Fixtures on the real local stack (scripts/stack.sh up).

S3 endpoint: test.ini names the local radosgw; DCOR_S3_ENDPOINT,
DCOR_S3_ACCESS_KEY and DCOR_S3_SECRET_KEY point the suite at another one.

This is the one place where CKAN's package search may be switched off, and
only when no Solr answers at `solr_url`.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import uuid

import boto3
import pytest
from botocore.config import Config

import ckan.plugins.toolkit as tk

from ckanext.dcor_depot.dev import no_solr
from ckanext.dcor_depot.tests.helpers import upgrade_depot_tables

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def test_ini(pytestconfig) -> pathlib.Path:
    """The ini pytest was given with --ckan-ini."""
    return pathlib.Path(pytestconfig.getoption("ckan_ini")).resolve()
SOLR_ANSWERS = no_solr.solr_answers(tk.config.get("solr_url") or "")
if not SOLR_ANSWERS:
    no_solr.switch_off_package_search()

# Buckets of this test run carry a prefix of their own, so runs that share
# an S3 server (CKAN 2.11 and 2.12, a benchmark) never touch each other.
BUCKET_PREFIX = f"t{uuid.uuid4().hex[:8]}-"
BUCKET_TEMPLATE = BUCKET_PREFIX + "circle-{organization_id}"


def circle_bucket(organization_id: str) -> str:
    return BUCKET_TEMPLATE.format(organization_id=organization_id)


S3_ENV = {
    "dcor_object_store.endpoint_url": "DCOR_S3_ENDPOINT",
    "dcor_object_store.access_key_id": "DCOR_S3_ACCESS_KEY",
    "dcor_object_store.secret_access_key": "DCOR_S3_SECRET_KEY",
}


def s3_settings() -> dict[str, str]:
    return {key: os.environ.get(env) or tk.config.get(key)
            for key, env in S3_ENV.items()}


@pytest.fixture
def clean_db(reset_db):
    """CKAN's clean database plus this extension's own tables."""
    reset_db()
    upgrade_depot_tables()
    # CKAN's reset leaves these rows: jobs of an earlier test's resources
    # would be swept into this test's workers
    from ckan import model
    from ckanext.dcor_depot import db
    with model.meta.engine.begin() as connection:
        for table in (db.job_outbox_table, db.issued_upload_table,
                      db.fixity_copy_table, db.integrity_failure_table):
            connection.execute(table.delete())


@pytest.fixture
def dcor_paths(ckan_config, monkeypatch, tmp_path):
    """A fresh storage_path and depots_path, plus the S3 settings."""
    paths = {
        "ckan.storage_path": tmp_path / "storage",
        "ckanext.dcor_depot.depots_path": tmp_path / "depots",
    }
    for key, path in paths.items():
        path.mkdir()
        monkeypatch.setitem(ckan_config, key, str(path))
    for key, value in s3_settings().items():
        monkeypatch.setitem(ckan_config, key, value)
    monkeypatch.setitem(ckan_config, "dcor_object_store.bucket_name",
                        BUCKET_TEMPLATE)
    return {key.rsplit(".", 1)[-1]: path for key, path in paths.items()}


@pytest.fixture(autouse=True)
def _dcor_isolation(dcor_paths):
    """Every test gets its own folders."""
    yield


def _empty_bucket(client, bucket):
    for page in client.get_paginator("list_object_versions").paginate(
            Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=bucket, Key=item["Key"],
                                 VersionId=item["VersionId"])
    for page in client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket):
        for upload in page.get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                          UploadId=upload["UploadId"])


def _plain_client():
    settings = s3_settings()
    return boto3.client(
        "s3",
        endpoint_url=settings["dcor_object_store.endpoint_url"],
        aws_access_key_id=settings["dcor_object_store.access_key_id"],
        aws_secret_access_key=settings["dcor_object_store.secret_access_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}))


def _remove_run_buckets(client):
    for bucket in client.list_buckets()["Buckets"]:
        if bucket["Name"].startswith(BUCKET_PREFIX):
            _empty_bucket(client, bucket["Name"])
            client.delete_bucket(Bucket=bucket["Name"])


@pytest.fixture(scope="session", autouse=True)
def _remove_buckets_at_the_end():
    yield
    _remove_run_buckets(_plain_client())


@pytest.fixture
def s3_client():
    """A plain boto3 client on the test S3 server. Buckets of this run are
    removed after the test."""
    client = _plain_client()
    yield client
    _remove_run_buckets(client)


@pytest.fixture
def worker_ini(dcor_paths, ckan_config, tmp_path, test_ini):
    """An ini for subprocesses (`ckan jobs worker`, CLI) with this test's
    folders and S3 settings."""
    ini = tmp_path / "worker.ini"
    plugins = ckan_config.get("ckan.plugins") or "dcor_depot"
    if isinstance(plugins, (list, tuple)):
        plugins = " ".join(plugins)
    if not SOLR_ANSWERS:
        plugins += " dcor_depot_dev_no_solr"
    settings = s3_settings()
    archive_providers = ckan_config.get("ckanext.dcor_depot.archive_providers")
    if isinstance(archive_providers, (list, tuple)):
        archive_providers = " ".join(archive_providers)
    ini.write_text(textwrap.dedent(f"""\
        [DEFAULT]
        debug = false
        [app:main]
        use = config:{test_ini}
        ckan.plugins = {plugins}
        ckan.storage_path = {dcor_paths['storage_path']}
        ckanext.dcor_depot.depots_path = {dcor_paths['depots_path']}
        ckanext.dcor_depot.s3_part_size = {ckan_config.get('ckanext.dcor_depot.s3_part_size')}
        ckanext.dcor_depot.archive_providers = {archive_providers or ''}
        dcor_object_store.bucket_name = {BUCKET_TEMPLATE}
        dcor_object_store.endpoint_url = {settings['dcor_object_store.endpoint_url']}
        dcor_object_store.access_key_id = {settings['dcor_object_store.access_key_id']}
        dcor_object_store.secret_access_key = {settings['dcor_object_store.secret_access_key']}
        """) + _logging_sections(test_ini))
    return ini


def _logging_sections(test_ini: pathlib.Path) -> str:
    text = test_ini.read_text()
    return text[text.index("[loggers]"):]


def _ckan_argv(ini, args):
    ckan_bin = pathlib.Path(sys.executable).with_name("ckan")
    return [str(ckan_bin), "-c", str(ini), *map(str, args)]


def ckan_command(ini, *args, timeout=600, **kwargs):
    """Run `ckan -c INI ARGS...` in a subprocess and return the result."""
    return subprocess.run(_ckan_argv(ini, args), capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, **kwargs)


def start_ckan(ini, *args, **kwargs):
    """Start `ckan -c INI ARGS...` in a process group of its own (so that a
    test can SIGKILL it with its work horses); output is dropped unless
    given."""
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    kwargs.setdefault("stderr", subprocess.DEVNULL)
    return subprocess.Popen(_ckan_argv(ini, args), cwd=REPO,
                            start_new_session=True, **kwargs)


def start_worker(ini, burst=True, **kwargs):
    """A real `ckan dcor-depot-worker` (CKAN's worker and the outbox sweep)
    on the depot queue; with burst=False it keeps waiting for jobs, as on a
    site."""
    queue = tk.config.get("ckanext.dcor_depot.jobs_queue")
    return start_ckan(ini, "dcor-depot-worker",
                      *(["--burst"] if burst else []), queue, **kwargs)


@pytest.fixture
def run_worker(worker_ini):
    """Run a real `ckan dcor-depot-worker --burst` until the queues are
    empty."""
    def run(timeout=600):
        queue = tk.config.get("ckanext.dcor_depot.jobs_queue")
        result = ckan_command(worker_ini, "dcor-depot-worker", "--burst",
                              queue, timeout=timeout)
        assert result.returncode == 0, result.stderr[-4000:]
        return result
    return run


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_site(worker_ini, tmp_path):
    """This test's CKAN site served over HTTP (`ckan run`), for clients
    that talk to a real server (DCOR-Aid, browsers, the download client).
    Yields its base URL."""
    import time

    import requests

    port = _free_port()
    log = open(tmp_path / "site.log", "w")
    ckan_bin = pathlib.Path(sys.executable).with_name("ckan")
    site = subprocess.Popen(
        [str(ckan_bin), "-c", str(worker_ini), "run", "-H", "127.0.0.1",
         "-p", str(port), "--disable-reloader", "--threaded"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if requests.get(f"{url}/api/3/action/status_show",
                                timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if site.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the CKAN site did not start: " +
                                   (tmp_path / "site.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        site.terminate()
        site.wait(30)
        log.close()


# The reference deployment (deploy/: nginx -> uWSGI -> CKAN, RQ workers as
# the systemd unit runs them), on free loopback ports; see
# tests/deployment.py. Every site a test starts is stopped after it, and
# the logs of a failing test's sites are attached to its report.
@pytest.fixture
def deployment(worker_ini, tmp_path):
    """A factory: deployment(processes=2, threads=4, workers=1,
    settings={...}) starts a site serving this test's worker_ini plus
    `settings` (any key, e.g. ckan.cache_expires, ckan.redis.url,
    dcor_object_store.endpoint_url) and returns it (url, uwsgi_url, ini,
    nginx_conf, cache_dir, logs, start_workers(n), stop_workers())."""
    from . import deployment as reference

    def start(processes=2, threads=4, workers=1, settings=None):
        site = reference.start(worker_ini, tmp_path / f"site-{len(sites)}",
                               processes=processes, threads=threads,
                               workers=workers, settings=settings)
        sites.append(site)
        return site

    sites = start.sites = []
    yield start
    for site in sites:
        site.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    factory = getattr(item, "funcargs", {}).get("deployment")
    if report.failed and factory is not None:
        for number, site in enumerate(factory.sites):
            for name, text in site.log_tails().items():
                if text:
                    report.sections.append(
                        (f"deployment {number}: {name} log", text))
