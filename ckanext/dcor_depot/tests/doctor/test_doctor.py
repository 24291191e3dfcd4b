"""`ckan dcor-depot-doctor` on the reference deployment: it passes there,
and names the broken part when a key is wrong, a circle's bucket policy
lets anyone read, the workers are stopped or nginx lacks the
X-Accel-Redirect location."""
import json

import pytest

from ckan.tests import factories

from ..conftest import ckan_command, circle_bucket
from ..deployment import site_ini

pytestmark = pytest.mark.usefixtures("clean_db", "clean_queues",
                                     "with_plugins")

CHECKS = ("S3", "clock", "bucket policy", "depot", "Redis", "worker",
          "X-Accel-Redirect", "upload size")


def doctor(site, ini=None, timeout="10"):
    done = ckan_command(ini or site.ini, "dcor-depot-doctor",
                        "--nginx-conf", site.nginx_conf,
                        "--worker-timeout", timeout)
    lines = {}
    for line in done.stdout.splitlines():
        status, _, rest = line.partition(" ")
        check, _, message = rest.strip().partition(": ")
        if check in CHECKS:
            lines[check] = (status, message)
    return done, lines


def failed(lines):
    return {check for check, (status, _) in lines.items() if status != "ok"}


def test_passes_then_names_a_wrong_key_and_an_open_bucket(
        deployment, s3_client, tmp_path):
    site = deployment(processes=2, threads=2, workers=1)
    circle = factories.Organization()
    done, lines = doctor(site)
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(lines) == set(CHECKS) and not failed(lines), done.stdout
    assert "0 failed" in done.stdout

    # a wrong secret key
    wrong = site_ini(tmp_path / "wrong-key.ini", site.ini, {
        "dcor_object_store.secret_access_key": "not-the-secret-key"})
    done, lines = doctor(site, wrong)
    assert done.returncode == 1
    status, message = lines["S3"]
    assert status == "FAIL" and "SignatureDoesNotMatch" not in message \
        and "dcor_object_store.secret_access_key" in message
    assert lines["bucket policy"][0] == "skip"
    assert failed(lines) == {"S3", "bucket policy"}

    # a circle bucket whose policy lets anyone read everything
    bucket = circle_bucket(circle["id"])
    s3_client.create_bucket(Bucket=bucket)
    s3_client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}))
    done, lines = doctor(site)
    assert done.returncode == 1
    status, message = lines["bucket policy"]
    assert status == "FAIL" and bucket in message
    assert "untagged object answered 200" in message
    assert failed(lines) == {"bucket policy"}
    # its probe objects are gone
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_names_stopped_workers_and_a_missing_nginx_location(deployment):
    site = deployment(processes=1, threads=2, workers=1)
    site.stop_workers()
    done, lines = doctor(site, timeout="3")
    assert done.returncode == 1
    status, message = lines["worker"]
    assert status == "FAIL" and "no worker took a job" in message \
        and "within 3 s" in message
    assert failed(lines) == {"worker"}

    site.start_workers(1)
    site.edit_nginx_site(lambda text: text.replace(
        "location /_dcor_storage/", "location /_not_the_storage/"))
    done, lines = doctor(site, timeout="30")
    assert done.returncode == 1
    status, message = lines["X-Accel-Redirect"]
    assert status == "FAIL" and "answered 404" in message
    assert "location /_dcor_storage/ { internal; alias" in message
    assert failed(lines) == {"X-Accel-Redirect"}
