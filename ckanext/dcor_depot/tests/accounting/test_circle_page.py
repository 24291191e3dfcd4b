"""The storage panel on the circle's page (issue 26, item 3): its figures
come from circle_storage_show; members and sysadmins see it, nobody else.
In a real headless Chromium (as tests/download_list/test_browser.py drives
it): the bar, the split by artifact, the largest datasets, the warnings at
80 % and 95 %, and the resource form's refusal of a file beyond the quota.
The panel's screenshot is saved in test-output/browser/ (with
DCOR_UPDATE_SCREENSHOTS=1 also as doc/circle-storage-panel.png, shown in
doc/operating.rst)."""
import os
import re
import shutil

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ..conftest import REPO
from ..download_list.test_browser import (  # noqa: F401 (fixtures)
    OUTPUT, PASSWORD, browser_page, browser_site)
from ..helpers import upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

PANEL = 'class="module dcor-circle-storage"'


def set_quota(circle_id, quota_bytes):
    tk.get_action("circle_quota_update")(
        {"ignore_auth": True}, {"id": circle_id, "quota_bytes": quota_bytes})


def test_the_panel_is_shown_to_members_and_sysadmins_only(app):
    member, stranger = factories.User(), factories.User()
    circle = factories.Organization(
        users=[{"name": member["name"], "capacity": "member"}])
    factories.Dataset(owner_org=circle["id"], private=False)
    set_quota(circle["id"], 10**9)
    sysadmin = factories.Sysadmin()
    for user, shown in ((member, True), (sysadmin, True), (stranger, False),
                        (None, False)):
        headers = {"Authorization": factories.APIToken(
            user=user["name"])["token"]} if user else {}
        page = app.get(f"/organization/{circle['name']}", headers=headers)
        assert page.status_code == 200
        assert (PANEL in page.body) is shown, user
        if not shown:
            assert "Largest datasets" not in page.body
            assert "1.0 GB" not in page.body


def test_panel_in_a_real_browser(app, browser_site, browser_page,
                                 run_worker):
    page, site = browser_page, browser_site
    user = factories.User(password=PASSWORD)
    circle = factories.Organization(
        title="Lab A", users=[{"name": user["name"], "capacity": "editor"}])
    token = factories.APIToken(user=user["name"])["token"]
    big = factories.Dataset(owner_org=circle["id"], title="Big series",
                            user=user)
    small = factories.Dataset(owner_org=circle["id"], title="Small series",
                              user=user)
    upload_resource(app, token, big["id"], os.urandom(4000), name="a.rtdc")
    upload_resource(app, token, big["id"], os.urandom(3000), name="b.rtdc")
    upload_resource(app, token, small["id"], os.urandom(1500),
                    name="c.rtdc")
    run_worker()
    set_quota(circle["id"], 10_000)

    page.goto(f"{site}/user/login")
    page.fill("#field-login", user["name"])
    page.fill("#field-password", PASSWORD)
    page.press("#field-password", "Enter")
    page.wait_for_url(re.compile(r".*/(dashboard|user)/.*"))

    # 85 %: the bar, the split, the largest datasets, the 80 % warning
    page.goto(f"{site}/organization/{circle['name']}")
    panel = page.locator(".dcor-circle-storage")
    assert panel.locator(".dcor-storage-held").inner_text() == "8.5 kB"
    assert panel.locator(".dcor-storage-quota").inner_text() == "10.0 kB"
    assert panel.locator(".dcor-storage-percent").inner_text() == "85.0"
    bar = panel.locator(".dcor-storage-bar .progress-bar")
    assert "width: 85" in bar.get_attribute("style")
    assert "bg-warning" in bar.get_attribute("class")
    row = panel.locator('tr[data-artifact="resource"]')
    assert row.locator(".dcor-files").inner_text() == "3"
    assert row.locator(".dcor-bytes").inner_text() == "8.5 kB"
    assert panel.locator('tr[data-artifact="condensed"] .dcor-files'
                         ).inner_text() == "0"
    largest = panel.locator(".dcor-largest-datasets li")
    assert largest.count() == 2
    assert largest.nth(0).get_attribute("data-dataset") == big["name"]
    assert "7.0 kB" in largest.nth(0).inner_text()
    assert largest.nth(1).get_attribute("data-dataset") == small["name"]
    warning = panel.locator(".dcor-quota-warning")
    assert warning.get_attribute("data-level") == "80"
    assert "85.0 %" in warning.inner_text()

    # CKAN's classic resource form (what a browser without JavaScript
    # gets; with it, the uploader of issue 25 replaces the file field)
    # refuses a file beyond the quota with the line
    classic = page.context.browser.new_context(
        java_script_enabled=False, storage_state=page.context.storage_state())
    form = classic.new_page()
    form.goto(f"{site}/dataset/{small['name']}/resource/new")
    form.set_input_files("#field-resource-upload", files=[{
        "name": "too-big.rtdc", "mimeType": "application/octet-stream",
        "buffer": os.urandom(2000)}])
    form.fill("#field-name", "too big")
    form.locator("button[name=save]").last.click()
    form.wait_for_load_state()
    assert (f"not accepted: circle {circle['name']} holds 8.5 kB of its "
            "10.0 kB quota, and this file has 2.0 kB") in \
        form.locator(".error-explanation").inner_text()
    classic.close()
    # the uploader (with JavaScript) is refused by the multipart create
    # before a byte goes to S3, and tells the user the same line
    page.goto(f"{site}/dataset/{small['name']}/resource/new")
    page.wait_for_selector(".uppy-Dashboard")
    page.locator("input.uppy-Dashboard-input").first.set_input_files(files=[{
        "name": "too-big.rtdc", "mimeType": "application/octet-stream",
        "buffer": os.urandom(2000)}])
    page.click("button.uppy-StatusBar-actionBtn--upload")
    refused = page.locator(".dcor-upload-error")
    refused.wait_for()
    assert (f"not accepted: circle {circle['name']} holds 8.5 kB of its "
            "10.0 kB quota, and this file has 2.0 kB") in refused.inner_text()
    assert len(tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": small["id"]})["resources"]) == 1

    # 97 %: the 95 % warning
    upload_resource(app, token, small["id"], os.urandom(1200), name="d.rtdc")
    run_worker()
    page.goto(f"{site}/organization/{circle['name']}")
    panel = page.locator(".dcor-circle-storage")
    assert panel.locator(".dcor-storage-percent").inner_text() == "97.0"
    warning = panel.locator(".dcor-quota-warning")
    assert warning.get_attribute("data-level") == "95"
    assert "bg-danger" in panel.locator(
        ".dcor-storage-bar .progress-bar").get_attribute("class")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "circle-storage-panel.png"
    panel.screenshot(path=str(shot))
    if os.environ.get("DCOR_UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, REPO / "doc" / "circle-storage-panel.png")
