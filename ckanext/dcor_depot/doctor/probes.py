"""The doctor's checks against the running parts (I/O). Each returns
verdicts.Result lines; nothing they create outlives them."""
from __future__ import annotations

import dataclasses
import email.utils
import os
import secrets
import shutil
import time
import uuid
from typing import Any

import botocore.exceptions
import requests

import ckan.plugins.toolkit as tk
from ckan.lib.redis import connect_to_redis

from .. import config as dcor_config
from .. import job_queue, naming
from ..storage import s3
from ..workflows import reconcile
from . import nginx_conf, verdicts
from .verdicts import Result, fail, ok, skip

PROBE_PREFIX = ".dcor-depot-doctor-"
ACCEL_TOKEN_KEY = "dcor_depot:doctor:accel:{}"


def s3_and_clock() -> list[Result]:
    """The endpoint answers an authenticated call with these keys, and its
    clock (Date header) agrees with ours."""
    if not dcor_config.s3_enabled():
        return [skip("S3", "the object store is not configured (S3 work is "
                           "off): set dcor_object_store.endpoint_url, "
                           "access_key_id, secret_access_key")]
    endpoint = dcor_config.s3_endpoint_url()
    before = time.time()
    try:
        answer = s3.get_client().list_buckets()
        metadata = answer["ResponseMetadata"]
    except botocore.exceptions.ClientError as exc:
        code = s3.error_code(exc)
        results = [fail("S3", f"{endpoint}: {verdicts.s3_error(code, '')}")]
        date = exc.response.get("ResponseMetadata", {}).get(
            "HTTPHeaders", {}).get("date")
        if date:
            results.append(_skew(date, before))
        return results
    except botocore.exceptions.BotoCoreError as exc:
        return [fail("S3", f"{endpoint} does not answer ({exc}): check "
                           "dcor_object_store.endpoint_url and that the "
                           "server runs")]
    results = [ok("S3", f"{endpoint} accepts the keys "
                        f"({len(answer['Buckets'])} buckets)")]
    date = metadata.get("HTTPHeaders", {}).get("date")
    results.append(_skew(date, before) if date else
                   skip("clock", "the S3 server sent no Date header"))
    return results


def _skew(date_header: str, before: float) -> Result:
    # the header has whole seconds: the server's time was in the next 1 s
    server = email.utils.parsedate_to_datetime(date_header).timestamp() + .5
    # ... and it stamped its answer between our send and now
    return verdicts.clock_skew(server - (before + time.time()) / 2)


def _anonymous_status(bucket: str, key: str) -> int:
    url = naming.object_url(dcor_config.s3_endpoint_url(), bucket, key)
    with requests.get(url, timeout=30, stream=True,
                      verify=dcor_config.s3_ssl_verify()) as answer:
        return answer.status_code


def _probe_bucket(client: Any, bucket: str) -> Result:
    token = secrets.token_hex(8)
    private_key = f"resource/{PROBE_PREFIX}{token}"
    staging_key = f"staging/{PROBE_PREFIX}{token}"
    body = secrets.token_bytes(64)
    try:
        client.put_object(Bucket=bucket, Key=private_key, Body=body)
        client.put_object(Bucket=bucket, Key=staging_key, Body=body,
                          Tagging="public=true")
        untagged = _anonymous_status(bucket, private_key)
        client.put_object_tagging(Bucket=bucket, Key=private_key, Tagging={
            "TagSet": [{"Key": "public", "Value": "true"}]})
        tagged = _anonymous_status(bucket, private_key)
        staging = _anonymous_status(bucket, staging_key)
    finally:
        for key in (private_key, staging_key):
            client.delete_object(Bucket=bucket, Key=key)
    return verdicts.bucket_policy(bucket, untagged, tagged, staging)


def bucket_policies() -> list[Result]:
    """Anonymous GETs of probe objects in every circle bucket (or, before
    the first circle has one, in a bucket made as the site makes them)."""
    client = s3.get_client()
    buckets = reconcile.circle_buckets()
    if buckets:
        results = [_probe_bucket(client, bucket) for bucket in buckets]
        failed = [r for r in results if r.status == verdicts.FAIL]
        return failed or [ok("bucket policy", f"{len(results)} circle "
                                              "buckets: anonymous GET 403 "
                                              "untagged, 200 tagged "
                                              "public=true")]
    bucket = s3.bucket_for_circle(str(uuid.uuid4()))
    s3.ensure_bucket(client, bucket)
    try:
        result = _probe_bucket(client, bucket)
    finally:
        client.delete_bucket(Bucket=bucket)
    return [dataclasses.replace(result, message="no circle has a bucket "
                                "yet; a probe bucket made as the site makes "
                                "them (removed): " + result.message)]


def _file_system(path: str) -> str:
    """`type on source` of the mount that holds `path` (Linux)."""
    real, best = os.path.realpath(path), ("", "unknown file system")
    try:
        with open("/proc/self/mountinfo") as mounts:
            for line in mounts:
                fields = line.split()
                mount_point = fields[4].replace("\\040", " ")
                tail = fields[fields.index("-") + 1:]
                inside = real == mount_point or real.startswith(
                    mount_point.rstrip("/") + "/")
                if inside and len(mount_point) >= len(best[0]):
                    best = (mount_point, f"{tail[0]} on {tail[1]}")
    except (OSError, ValueError, IndexError):
        pass
    return best[1]


def depot_path() -> list[Result]:
    """depots_path is writable (a probe file written, fsynced, read back
    and removed), and on which file system, beside ckan.storage_path."""
    depots, storage = dcor_config.depots_path(), dcor_config.storage_path()
    probe = os.path.join(depots, PROBE_PREFIX + secrets.token_hex(8))
    data = secrets.token_bytes(4096)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        with open(probe, "rb") as handle:
            if handle.read() != data:
                return [fail("depot", f"{depots}: a probe file read back "
                                      "other bytes than were written")]
    except OSError as exc:
        return [fail("depot", f"{depots} is not writable ({exc.strerror}): "
                              f"create it for the user CKAN and the workers "
                              f"run as ({dcor_config.DEPOTS_PATH})")]
    finally:
        if os.path.exists(probe):
            os.unlink(probe)
    free = shutil.disk_usage(depots).free / 1e9
    try:
        same = os.stat(depots).st_dev == os.stat(storage).st_dev
    except OSError as exc:
        return [fail("depot", f"ckan.storage_path {storage}: "
                              f"{exc.strerror}")]
    return [ok("depot", f"{depots} writable, {_file_system(depots)}, "
                        f"{free:.1f} GB free; ckan.storage_path "
                        + ("on the same file system (moves are hard links)"
                           if same else f"on {_file_system(storage)} "
                                        "(moves copy and verify)"))]


def redis() -> list[Result]:
    url = tk.config.get("ckan.redis.url")
    try:
        connection = connect_to_redis()
        connection.ping()
        version = connection.info("server").get("redis_version")
    except Exception as exc:  # any client error means it does not answer
        return [fail("Redis", f"{url} does not answer ({exc}): check "
                              "ckan.redis.url and that Redis runs")]
    return [ok("Redis", f"{url} answers (Redis {version})")]


def worker_probe(token: str) -> str:
    """The job the doctor queues: a worker that runs it is alive."""
    return token


def worker(timeout: float) -> list[Result]:
    """A worker of the depot queue takes a probe job within `timeout`."""
    queue = dcor_config.jobs_queue()
    token = secrets.token_hex(8)
    job = job_queue.enqueue_probe(worker_probe, token)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout:
            if job.get_status(refresh=True) == "finished":
                return [ok("worker", f"a worker of queue {queue!r} ran a "
                                     f"probe job within "
                                     f"{time.monotonic() - start:.1f} s")]
            time.sleep(0.2)
        return [fail("worker", f"no worker took a job from queue {queue!r} "
                               f"within {timeout:.0f} s: none runs, or all "
                               f"are busy (ckan jobs list); start one (ckan "
                               f"dcor-depot-worker {queue}; deploy/"
                               "ckan-worker@.service)")]
    finally:
        job.delete()


def accel_location(site_url: str) -> list[Result]:
    """The front server at site_url sends a probe file that CKAN hands it
    with X-Accel-Redirect."""
    accel = dcor_config.download_accel_redirect()
    if not accel:
        return [skip("X-Accel-Redirect", "not set: CKAN streams depot files "
                                         "itself (behind nginx set "
                                         f"{dcor_config.DOWNLOAD_ACCEL_REDIRECT})")]
    token = secrets.token_hex(16)
    probe = os.path.join(dcor_config.storage_path(), PROBE_PREFIX + token)
    data = secrets.token_bytes(256)
    connection = connect_to_redis()
    want = (f"location {accel} {{ internal; alias "
            f"{dcor_config.storage_path().rstrip('/')}/; }}")
    try:
        with open(probe, "wb") as handle:
            handle.write(data)
        connection.set(ACCEL_TOKEN_KEY.format(token), "1", ex=120)
        url = f"{site_url.rstrip('/')}/dcor-depot/doctor/accel/{token}"
        try:
            answer = requests.get(url, timeout=30)
        except requests.RequestException as exc:
            return [fail("X-Accel-Redirect", f"{url}: {exc}")]
    finally:
        connection.delete(ACCEL_TOKEN_KEY.format(token))
        if os.path.exists(probe):
            os.unlink(probe)
    if answer.status_code == 200 and answer.content == data:
        return [ok("X-Accel-Redirect", f"{site_url} sends files from "
                                       f"{accel} ({answer.headers.get('Server', 'front server')})")]
    if "X-Accel-Redirect" in answer.headers:
        return [fail("X-Accel-Redirect", f"{site_url} is not behind nginx "
                                         "(the header reached the client): "
                                         f"unset {dcor_config.DOWNLOAD_ACCEL_REDIRECT}"
                                         " or serve the site through nginx")]
    return [fail("X-Accel-Redirect", f"{site_url} answered "
                                     f"{answer.status_code} for a file handed "
                                     f"to {accel}: nginx needs '{want}'")]


def body_limit(nginx_config: str | None, site_url: str) -> list[Result]:
    max_mb = int(tk.config.get("ckan.max_resource_size") or 0)
    if not nginx_config or not os.path.exists(nginx_config):
        return [skip("upload size", "no nginx config to read (give "
                                    "--nginx-conf)")]
    try:
        http, server = nginx_conf.site_server(nginx_conf.load(nginx_config),
                                              site_url)
    except (nginx_conf.ConfigUnreadable, LookupError) as exc:
        return [skip("upload size", f"{nginx_config}: {exc}")]
    limit = nginx_conf.upload_body_limit(http, server)
    return [verdicts.body_limit(limit.value, limit.where, max_mb)]
