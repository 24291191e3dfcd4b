"""The multipart upload API (issue 25, items 1, 3, 4, 5): a plain HTTP
client plays the browser against the real site, radosgw and worker."""
import base64
import datetime
import hashlib
import os

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.tests import factories

from ckanext.dcor_depot import db, naming
from ckanext.dcor_depot.cli import depot as depot_cli
from ckanext.dcor_depot.storage import s3

from ..conftest import circle_bucket
from ..helpers import file_sha256, make_circle_and_user

PART = 5 * 1024**2  # S3's smallest part: the site's part size in these tests
pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.ckan_config("ckanext.dcor_depot.multipart_part_size", PART),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]
NOT_YOURS = "no unfinished upload of yours has this resource id"


def api(app, token, action, status=200, **data):
    response = app.post(f"/api/3/action/{action}", json=data,
                        headers={"Authorization": token} if token else {})
    assert response.status_code == status, response.body
    return response.json


def create(app, token, dataset, data, name="cells.rtdc", status=200,
           **extra):
    return api(app, token, "resource_upload_multipart_create",
               status=status, package_id=dataset["id"], name=name,
               file_size=len(data), **extra)


def b64md5(chunk: bytes) -> str:
    return base64.b64encode(hashlib.md5(chunk).digest()).decode()


def part_of(data: bytes, upload: dict, number: int) -> bytes:
    size = upload["part_size"]
    return data[(number - 1) * size:number * size]


def put_part(app, token, upload, number, chunk, content_md5=None,
             send_md5=None):
    """Sign one part and PUT it as a browser would; S3's response."""
    signed = api(app, token, "resource_upload_multipart_sign_part",
                 resource_id=upload["resource_id"], part_number=number,
                 content_md5=content_md5 or b64md5(chunk))["result"]
    headers = dict(signed["headers"])
    if send_md5:
        headers["Content-MD5"] = send_md5
    return requests.put(signed["url"], data=chunk, headers=headers,
                        timeout=60)


def send_all(app, token, upload, data, numbers=None):
    """PUT the given parts (all by default); [{part_number, etag}]."""
    parts = []
    for number in numbers or range(1, upload["part_count"] + 1):
        response = put_part(app, token, upload, number,
                            part_of(data, upload, number))
        assert response.status_code == 200, response.text
        parts.append({"part_number": number,
                      "etag": response.headers["ETag"].strip('"')})
    return sorted(parts, key=lambda part: part["part_number"])


def etag_of(data: bytes, upload: dict) -> str:
    md5s = b"".join(hashlib.md5(part_of(data, upload, n)).digest()
                    for n in range(1, upload["part_count"] + 1))
    return f"{hashlib.md5(md5s).hexdigest()}-{upload['part_count']}"


def complete(app, token, upload, parts, data, status=200, **extra):
    return api(app, token, "resource_upload_multipart_complete",
               status=status, resource_id=upload["resource_id"],
               parts=parts, etag=extra.pop("etag", etag_of(data, upload)),
               **extra)


def open_uploads(s3_client, bucket):
    return s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads",
                                                                [])


def circle_editor(circle):
    """A new editor of the circle (who may add resources to its datasets)
    and their API token."""
    editor = factories.User()
    tk.get_action("organization_member_create")(
        {"ignore_auth": True}, {"id": circle["id"], "username":
                                editor["name"], "role": "editor"})
    return editor, factories.APIToken(user=editor["name"])["token"]


def issued_row(rid):
    table = db.issued_upload_table
    return model.Session.execute(table.select().where(
        table.c.resource_id == rid)).first()


def test_upload_of_several_parts_ends_verified(app, run_worker, s3_client,
                                               dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(2 * PART + 12345)
    upload = create(app, token, dataset, data, last_modified=1_700_000_000_000
                    )["result"]
    assert upload["part_size"] == PART and upload["part_count"] == 3
    assert 0 < upload["expires_in"] <= 172800
    rid = upload["resource_id"]
    assert api(app, token, "resource_upload_multipart_list_parts",
               resource_id=rid)["result"] == []
    parts = send_all(app, token, upload, data, [3, 1, 2])  # any order
    held = api(app, token, "resource_upload_multipart_list_parts",
               resource_id=rid)["result"]
    assert [(p["part_number"], p["size"]) for p in held] == \
        [(1, PART), (2, PART), (3, 12345)]
    assert [p["etag"] for p in held] == [p["etag"] for p in parts]

    sha256 = hashlib.sha256(data).hexdigest()
    resource = complete(app, token, upload, parts, data,
                        sha256=sha256.upper())["result"]
    assert resource["id"] == rid and resource["name"] == "cells.rtdc"
    assert resource["url_type"] == "s3_upload"
    assert resource["size"] == len(data)
    run_worker()

    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": rid})
    assert shown["sha256"] == sha256
    assert shown["upload_verification"] == "verified"
    bucket = circle_bucket(circle["id"])
    key = naming.object_key("resource", rid)
    assert s3_client.head_object(Bucket=bucket, Key=key)["ETag"].strip(
        '"') == etag_of(data, upload)
    assert s3.object_tags(s3_client, bucket, key)["sha256"] == sha256
    link = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    assert os.path.islink(link) and file_sha256(os.readlink(link)) == sha256
    # the staging upload is gone once the backup verified the copy
    assert s3.object_head(s3_client, bucket, naming.staging_key(rid)) is None
    assert open_uploads(s3_client, bucket) == []
    page = app.get(f"/dataset/{dataset['id']}/resource/{rid}",
                   headers={"Authorization": token})
    assert "dcor-upload-verification-verified" in page.body
    # the finished upload is no longer anyone's to sign
    body = api(app, token, "resource_upload_multipart_sign_part", status=403,
               resource_id=rid, part_number=1, content_md5=b64md5(b"x"))
    assert body["error"]["message"].endswith(NOT_YOURS)


def test_single_part_upload_is_accepted(app, run_worker, s3_client):
    """One part: S3's ETag ends in -1, which the copy and the backup keep
    and check."""
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(1000)
    upload = create(app, token, dataset, data)["result"]
    assert upload["part_count"] == 1 and upload["part_size"] == PART
    parts = send_all(app, token, upload, data)
    assert etag_of(data, upload).endswith("-1")
    resource = complete(app, token, upload, parts, data)["result"]
    run_worker()
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": resource["id"]})
    assert shown["sha256"] == hashlib.sha256(data).hexdigest()
    assert shown["etag"] == etag_of(data, upload)
    # no sha256 given, nothing compared
    assert "upload_verification" not in shown
    key = naming.object_key("resource", resource["id"])
    head = s3_client.head_object(Bucket=circle_bucket(circle["id"]), Key=key)
    assert head["ETag"].strip('"') == etag_of(data, upload)


def test_wrong_sha256_ends_in_failed_verification(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(PART + 10)
    upload = create(app, token, dataset, data)["result"]
    parts = send_all(app, token, upload, data)
    wrong = hashlib.sha256(data + b"!").hexdigest()
    rid = complete(app, token, upload, parts, data, sha256=wrong
                   )["result"]["id"]
    run_worker()
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": rid})
    # the site keeps its own sha256 of the object, and says it differs
    assert shown["sha256"] == hashlib.sha256(data).hexdigest()
    assert shown["upload_verification"] == "failed"
    page = app.get(f"/dataset/{dataset['id']}/resource/{rid}",
                   headers={"Authorization": token})
    assert "dcor-upload-verification-failed" in page.body
    assert "failed verification" in page.body
    # a client cannot clear the mark
    body = api(app, token, "resource_patch", status=409, id=rid,
               upload_verification="verified")
    assert "upload_verification" in str(body["error"])


def test_another_user_cannot_sign_list_complete_or_abort(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    # an editor of the same circle may add resources to the dataset, but
    # the upload is not theirs
    editor, editor_token = circle_editor(circle)
    data = os.urandom(100)
    upload = create(app, token, dataset, data)["result"]
    parts = send_all(app, token, upload, data)
    rid = upload["resource_id"]
    unknown = "0" * 8 + "-0000-4000-8000-" + "0" * 12
    for who in (editor_token, None):
        for resource_id in (rid, unknown):
            answers = [
                api(app, who, "resource_upload_multipart_sign_part",
                    status=403, resource_id=resource_id, part_number=1,
                    content_md5=b64md5(data)),
                api(app, who, "resource_upload_multipart_list_parts",
                    status=403, resource_id=resource_id),
                api(app, who, "resource_upload_multipart_complete",
                    status=403, resource_id=resource_id, parts=parts,
                    etag=etag_of(data, upload)),
                api(app, who, "resource_upload_multipart_abort",
                    status=403, resource_id=resource_id)]
            for body in answers:
                # the same words for a stranger's id and for none at all
                assert body["error"]["message"].endswith(NOT_YOURS), body
                assert str(upload["part_count"]) not in str(body["error"])
    # the owner's upload is untouched
    assert len(open_uploads(s3_client, circle_bucket(circle["id"]))) == 1
    complete(app, token, upload, parts, data)
    # and the editor cannot start an upload into a dataset they may not edit
    other = factories.Dataset(owner_org=factories.Organization()["id"])
    create(app, editor_token, other, data, status=403)


def test_part_number_zero_or_beyond_the_parts(app):
    user, circle, dataset, token = make_circle_and_user()
    upload = create(app, token, dataset, os.urandom(PART + 1))["result"]
    assert upload["part_count"] == 2
    for bad in (0, -1, 3, "one", 1.5, True, None):
        body = api(app, token, "resource_upload_multipart_sign_part",
                   status=409, resource_id=upload["resource_id"],
                   part_number=bad, content_md5=b64md5(b"x"))
        message, = body["error"]["part_number"]
        assert "\n" not in message
    assert "outside 1..2" in api(
        app, token, "resource_upload_multipart_sign_part", status=409,
        resource_id=upload["resource_id"], part_number=3,
        content_md5=b64md5(b"x"))["error"]["part_number"][0]


def test_content_md5_malformed_or_not_the_bytes(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(PART + 100)
    upload = create(app, token, dataset, data)["result"]
    for bad in ("", "abc", "not base64!", base64.b64encode(b"x" * 15)
                .decode(), 123):
        body = api(app, token, "resource_upload_multipart_sign_part",
                   status=409, resource_id=upload["resource_id"],
                   part_number=1, content_md5=bad)
        assert "content_md5" in body["error"]
    first = part_of(data, upload, 1)
    # signed for other bytes of the same length: S3 refuses the body
    other = os.urandom(len(first))
    response = put_part(app, token, upload, 1, first,
                        content_md5=b64md5(other))
    assert response.status_code in (400, 403), response.text
    # signed for these bytes, but another MD5 sent: the signature fails
    response = put_part(app, token, upload, 1, first,
                        send_md5=b64md5(other))
    assert response.status_code in (400, 403), response.text
    # the signed length: fewer bytes are refused too
    response = put_part(app, token, upload, 1, first[:-1],
                        content_md5=b64md5(first))
    assert response.status_code in (400, 403), response.text
    assert api(app, token, "resource_upload_multipart_list_parts",
               resource_id=upload["resource_id"])["result"] == []


def test_complete_with_a_missing_part_or_a_wrong_etag(app, run_worker,
                                                      s3_client):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(2 * PART + 5)
    upload = create(app, token, dataset, data)["result"]
    parts = send_all(app, token, upload, data, [1, 2])
    fake3 = {"part_number": 3, "etag": hashlib.md5(b"?").hexdigest()}
    body = complete(app, token, upload, parts + [fake3], data, status=409)
    assert body["error"]["parts"] == [
        "part 3 was not uploaded (the object store holds no such part)"]
    parts += send_all(app, token, upload, data, [3])
    body = complete(app, token, upload, parts[:2], data, status=409)
    assert body["error"]["parts"] == ["part 3 is missing"]
    wrong_part = [dict(parts[0], etag=fake3["etag"])] + parts[1:]
    body = complete(app, token, upload, wrong_part, data, status=409)
    assert "part 1 has ETag" in body["error"]["parts"][0]
    wrong = hashlib.md5(b"?").hexdigest() + "-3"
    body = complete(app, token, upload, parts, data, status=409, etag=wrong)
    assert body["error"]["etag"] == [
        f"the parts in the object store give ETag {etag_of(data, upload)}, "
        f"the client computed {wrong}"]
    for bad in ("abc", hashlib.md5(b"?").hexdigest(), 7):
        assert "etag" in complete(app, token, upload, parts, data,
                                  status=409, etag=bad)["error"]
    for bad in ([], "parts", [{"part_number": 1}], [parts[0], parts[0]]):
        assert "parts" in complete(app, token, upload, bad, data,
                                   status=409)["error"]
    assert "sha256" in complete(app, token, upload, parts, data, status=409,
                                sha256="12ab")["error"]
    # nothing was created, and the upload is still open and can end well
    assert model.Session.get(model.Resource, upload["resource_id"]) is None
    assert len(open_uploads(s3_client, circle_bucket(circle["id"]))) == 1
    complete(app, token, upload, parts, data)
    run_worker()
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": upload["resource_id"]})
    assert shown["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.ckan_config("ckan.max_resource_size", 1)  # MB
def test_file_size_over_the_sites_limit(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    body = api(app, token, "resource_upload_multipart_create", status=409,
               package_id=dataset["id"], name="big.rtdc",
               file_size=1024**2 + 1)
    assert body["error"]["file_size"] == [
        "1048577 bytes is more than this site's limit of 1048576 bytes "
        "(ckan.max_resource_size)"]
    for field, bad in (("file_size", 0), ("file_size", "ten"),
                       ("name", ""), ("name", "a\nb"),
                       ("last_modified", -1), ("last_modified", "soon")):
        values = {"package_id": dataset["id"], "name": "x",
                  "file_size": 10, field: bad}
        body = api(app, token, "resource_upload_multipart_create",
                   status=409, **values)
        assert list(body["error"]) == [field, "__type"] or \
            field in body["error"], body
    api(app, token, "resource_upload_multipart_create", status=404,
        package_id="no-such-dataset", name="x", file_size=10)
    # nothing was started
    bucket = circle_bucket(circle["id"])
    assert bucket not in [b["Name"] for b in
                          s3_client.list_buckets()["Buckets"]]


def test_resume_finds_the_same_file_only(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(PART + 10)
    first = create(app, token, dataset, data, last_modified=42)["result"]
    send_all(app, token, first, data, [1])
    again = create(app, token, dataset, data, last_modified=42)["result"]
    assert again["resource_id"] == first["resource_id"]
    assert again["upload_id"] == first["upload_id"]
    held = api(app, token, "resource_upload_multipart_list_parts",
               resource_id=again["resource_id"])["result"]
    assert [p["part_number"] for p in held] == [1]
    # another size (or time, or name) is another file: a new upload
    other_size = create(app, token, dataset, data + b"x",
                        last_modified=42)["result"]
    assert other_size["resource_id"] != first["resource_id"]
    assert other_size["upload_id"] != first["upload_id"]
    other_time = create(app, token, dataset, data, last_modified=43
                        )["result"]
    assert other_time["resource_id"] not in (first["resource_id"],
                                             other_size["resource_id"])
    # another user gets their own upload, never this one
    editor, editor_token = circle_editor(circle)
    theirs = create(app, editor_token, dataset, data, last_modified=42
                    )["result"]
    assert theirs["resource_id"] != first["resource_id"]
    assert len(open_uploads(s3_client, circle_bucket(circle["id"]))) == 4


def test_quota_refuses_at_create_and_uploads_reserve(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    sysadmin = factories.Sysadmin()
    admin = factories.APIToken(user=sysadmin["name"])["token"]
    api(app, admin, "circle_quota_update", id=circle["id"],
        quota_bytes=10_000)
    body = create(app, token, dataset, b"x" * 10_001, status=409)
    assert body["error"]["file_size"] == [
        f"not accepted: circle {circle['name']} holds 0 bytes of its 10.0 kB "
        "quota, and this file has 10.0 kB"], body
    bucket = circle_bucket(circle["id"])
    assert bucket not in [b["Name"] for b in
                          s3_client.list_buckets()["Buckets"]]
    upload = create(app, token, dataset, b"x" * 6000)["result"]
    # the unfinished upload reserves its 6 kB
    create(app, token, dataset, b"y" * 5000, name="more.rtdc", status=409)
    # until it is aborted
    api(app, token, "resource_upload_multipart_abort",
        resource_id=upload["resource_id"])
    create(app, token, dataset, b"y" * 5000, name="more.rtdc")


def test_abort_leaves_nothing(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(PART + 10)
    upload = create(app, token, dataset, data)["result"]
    send_all(app, token, upload, data, [1])
    rid = upload["resource_id"]
    bucket = circle_bucket(circle["id"])
    assert len(open_uploads(s3_client, bucket)) == 1
    assert api(app, token, "resource_upload_multipart_abort",
               resource_id=rid)["result"] == {"resource_id": rid,
                                              "aborted": True}
    assert open_uploads(s3_client, bucket) == []
    assert s3.object_head(s3_client, bucket, naming.staging_key(rid)) is None
    assert list(s3.iter_objects(s3_client, bucket)) == []
    assert issued_row(rid) is None
    body = api(app, token, "resource_upload_multipart_sign_part", status=403,
               resource_id=rid, part_number=1, content_md5=b64md5(data))
    assert body["error"]["message"].endswith(NOT_YOURS)


def test_complete_for_a_deleted_dataset_is_refused_and_aborted(app,
                                                              s3_client):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(300)
    upload = create(app, token, dataset, data)["result"]
    parts = send_all(app, token, upload, data)
    api(app, token, "package_delete", id=dataset["id"])
    body = complete(app, token, upload, parts, data, status=409)
    assert body["error"]["resource_id"] == [
        f"dataset {dataset['id']} was deleted; the upload of resource "
        f"{upload['resource_id']} is aborted"]
    bucket = circle_bucket(circle["id"])
    assert open_uploads(s3_client, bucket) == []
    assert list(s3.iter_objects(s3_client, bucket)) == []
    assert model.Session.get(model.Resource, upload["resource_id"]) is None


def test_prune_minimum_age_exceeds_an_unfinished_uploads_life(
        cli, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.job_timeout", 60)
    monkeypatch.setitem(
        ckan_config, "ckanext.dcor_depot.multipart_upload_lifetime",
        3 * 24 * 3600)
    refused = cli.invoke(depot_cli.prune_stale_multipart_uploads,
                         ["--initiated-before-days", "3"])
    assert refused.exit_code != 0
    assert "at least 4" in refused.output
    assert "multipart upload lives 259800 s" in refused.output


def test_unfinished_upload_expires(app, s3_client):
    """After its lifetime an upload cannot be signed or resumed, and its
    size is no longer reserved."""
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(100)
    upload = create(app, token, dataset, data, last_modified=1)["result"]
    table = db.issued_upload_table
    model.Session.execute(table.update().where(
        table.c.resource_id == upload["resource_id"]).values(
        issued_at=datetime.datetime.utcnow() - datetime.timedelta(days=3)))
    model.Session.commit()
    api(app, token, "resource_upload_multipart_sign_part", status=403,
        resource_id=upload["resource_id"], part_number=1,
        content_md5=b64md5(data))
    again = create(app, token, dataset, data, last_modified=1)["result"]
    assert again["resource_id"] != upload["resource_id"]


def test_complete_again_after_s3_completed_creates_the_resource(
        app, run_worker, s3_client):
    """A complete call that ended after S3 completed the upload but before
    the resource was created (a killed web worker) is simply repeated."""
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(PART + 77)
    upload = create(app, token, dataset, data)["result"]
    parts = send_all(app, token, upload, data)
    bucket = circle_bucket(circle["id"])
    key = naming.staging_key(upload["resource_id"])
    s3.complete_upload(s3_client, bucket, key, upload["upload_id"], parts)
    # a wrong ETag is still refused, and nothing is created
    wrong = hashlib.md5(b"?").hexdigest() + "-2"
    complete(app, token, upload, parts, data, status=409, etag=wrong)
    assert model.Session.get(model.Resource, upload["resource_id"]) is None
    resource = complete(app, token, upload, parts, data,
                        sha256=hashlib.sha256(data).hexdigest())["result"]
    run_worker()
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": resource["id"]})
    assert shown["upload_verification"] == "verified"
    assert s3.object_head(s3_client, bucket, key) is None


def test_complete_needs_the_right_to_add_resources_still(app, s3_client):
    """An uploader removed from the circle cannot complete: S3 completes
    nothing, and the upload stays open for them to abort."""
    user, circle, dataset, token = make_circle_and_user()
    editor, editor_token = circle_editor(circle)
    data = os.urandom(200)
    upload = create(app, editor_token, dataset, data)["result"]
    parts = send_all(app, editor_token, upload, data)
    tk.get_action("organization_member_delete")(
        {"ignore_auth": True, "user": factories.Sysadmin()["name"]},
        {"id": circle["id"], "username": editor["name"]})
    complete(app, editor_token, upload, parts, data, status=403)
    bucket = circle_bucket(circle["id"])
    assert len(open_uploads(s3_client, bucket)) == 1
    api(app, editor_token, "resource_upload_multipart_abort",
        resource_id=upload["resource_id"])
    assert open_uploads(s3_client, bucket) == []
    assert list(s3.iter_objects(s3_client, bucket)) == []
