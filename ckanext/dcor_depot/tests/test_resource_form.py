"""CKAN's resource edit form for a stored file (issue 23, item 14): it
offers no "Remove", "Clear Upload", Upload or Link for it (the site would
refuse them: a stored file is never removed, replaced or turned into a
link), and the rest of the form still saves. In a real headless Chromium,
as tests/download_list/test_browser.py drives it."""
import os
import re

import pytest

from ckan.tests import factories

from ckanext.dcor_depot.workflows import records

from .download_list.test_browser import (  # noqa: F401 (fixtures)
    PASSWORD, browser_page, browser_site)
from .helpers import file_sha256, upload_directly, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

CKAN_FILE_CONTROLS = ("#resource-upload-button", "#resource-link-button",
                      "#field-resource-upload", "#field-clear-upload",
                      "button.btn-remove-url")


def stored_resources(app, user, run_worker):
    circle = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    dataset = factories.Dataset(owner_org=circle["id"], user=user)
    token = factories.APIToken(user=user["name"])["token"]
    uploaded = upload_resource(app, token, dataset["id"], os.urandom(5000),
                               name="uploaded.rtdc")
    direct = upload_directly(app, token, circle["id"], dataset["id"],
                             os.urandom(6000))
    run_worker()
    return dataset, token, {"upload": uploaded["id"], "s3_upload": direct}


def show(app, token, rid):
    response = app.get("/api/3/action/resource_show", query_string={
        "id": rid}, headers={"Authorization": token})
    assert response.status_code == 200, response.body
    return response.json["result"]


def test_edit_form_of_a_stored_file_offers_no_remove(
        app, browser_site, browser_page, run_worker):
    page, site = browser_page, browser_site
    user = factories.User(password=PASSWORD)
    dataset, token, rids = stored_resources(app, user, run_worker)
    page.goto(f"{site}/user/login")
    page.fill("#field-login", user["name"])
    page.fill("#field-password", PASSWORD)
    page.press("#field-password", "Enter")
    page.wait_for_url(re.compile(r".*/(dashboard|user)/.*"))

    for url_type, rid in rids.items():
        before = show(app, token, rid)
        depot_copy = os.path.realpath(records.ckan_path(rid))
        digest = file_sha256(depot_copy)
        page.goto(f"{site}/dataset/{dataset['name']}/resource/{rid}/edit")
        for selector in CKAN_FILE_CONTROLS:
            assert page.locator(selector).count() == 0, (url_type, selector)
        assert page.locator("button", has_text="Remove").count() == 0
        assert page.input_value("#field-stored-file") == \
            before["url"].rsplit("/", 1)[-1]
        page.fill("#field-description", f"cells of {url_type}")
        page.click("button[name=save]")
        page.wait_for_url(re.compile(rf".*/resource/{rid}$"))
        after = show(app, token, rid)
        assert after["description"] == f"cells of {url_type}"
        for field in ("url_type", "url", "size", "sha256", "s3_url"):
            assert after[field] == before[field], field
        assert os.path.islink(records.ckan_path(rid))
        assert file_sha256(depot_copy) == digest

    # a new resource keeps CKAN's Upload/Link field
    page.goto(f"{site}/dataset/{dataset['name']}/resource/new")
    assert page.locator("#resource-upload-button").count() == 1
    assert page.locator("#resource-link-button").count() == 1
    assert page.locator("#field-stored-file").count() == 0


def test_clearing_a_stored_file_is_refused_in_one_line(app, run_worker):
    user = factories.User()
    dataset, token, rids = stored_resources(app, user, run_worker)
    rid = rids["upload"]
    before = show(app, token, rid)
    # what CKAN's form posts after "Remove" and "Link"
    response = app.post("/api/3/action/resource_patch", data={
        "id": rid, "clear_upload": "true", "url_type": "",
        "url": "https://example.org/other.rtdc"},
        headers={"Authorization": token}, content_type="multipart/form-data")
    assert response.status_code == 409, response.body
    message = str(response.json["error"])
    assert f"the file of resource {rid} cannot be removed or turned into " \
        "a link; delete the resource instead" in message
    assert show(app, token, rid) == before
    assert os.path.islink(records.ckan_path(rid))
