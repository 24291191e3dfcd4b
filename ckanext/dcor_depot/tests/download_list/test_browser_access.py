"""Access requests and the query add in a real headless Chromium (issue
24, item 3): Debian's chromium driven by Playwright over a real CKAN
server and a real worker. A user requests access to an item that became
unreadable, the circle's admin grants it on the circle page, the item is
readable again and its archive downloads; then the user previews a
query, adds it and sees the totals change. The list page with a pending
request is saved as test-output/browser/download-list-access-request.png
(with DCOR_UPDATE_SCREENSHOTS=1 also in doc/ for the docs' concepts
page)."""
import os
import re
import shutil

import pytest

from ckan.tests import factories
from ckan.tests.helpers import call_action

from ..conftest import REPO
from ..helpers import upload_resource
from .test_browser import (OUTPUT, PASSWORD, archive_digests, browser_page,
                           browser_site, download, sha256)  # noqa: F401

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

SCREENSHOT = "download-list-access-request.png"


def log_in(page, site, user):
    page.goto(f"{site}/user/login")
    page.fill("#field-login", user["name"])
    page.fill("#field-password", PASSWORD)
    page.press("#field-password", "Enter")
    page.wait_for_url(re.compile(r".*/(dashboard|user)/.*"))


def test_request_grant_download_and_add_a_query(app, browser_site,
                                                run_worker, browser_page,
                                                tmp_path):
    page, site = browser_page, browser_site
    admin = factories.User(password=PASSWORD, fullname="Circle Admin")
    user = factories.User(password=PASSWORD, fullname="Rosalind Franklin")
    circle = factories.Organization(
        title="Cell Mechanics Lab",
        users=[{"name": admin["name"], "capacity": "admin"},
               {"name": user["name"], "capacity": "member"}])
    token = factories.APIToken(user=admin["name"])["token"]
    private = factories.Dataset(owner_org=circle["id"], private=True,
                                user=admin, title="Blood cells 2026")
    cells = os.urandom(90_000)
    resource = upload_resource(app, token, private["id"], cells,
                               name="cells-a.rtdc")
    public = factories.Dataset(owner_org=circle["id"], private=False,
                               user=admin, title="Beads")
    for name, size in (("beads-1.rtdc", 40_000), ("beads-2.rtdc", 30_000)):
        upload_resource(app, token, public["id"], os.urandom(size),
                        name=name)
    run_worker()
    # the user put the file on their list, then left the circle
    call_action("download_list_add", {"user": user["name"]},
                resource_ids=[resource["id"]])
    call_action("organization_member_delete", {"user": admin["name"]},
                id=circle["id"], username=user["name"])

    # 1. the user asks for access, with a message
    log_in(page, site, user)
    page.goto(f"{site}/dashboard/download-list")
    assert page.locator("tr.dcor-unreadable").count() == 1
    assert "cells-a.rtdc" not in page.content()
    page.fill("#dcor-request-message", "I analysed these cells in May.")
    page.click("button.dcor-request-button")
    page.wait_for_selector("text=access requested: the answer will show")
    assert page.get_attribute(".dcor-access-state", "data-state") == "open"
    assert page.locator("button.dcor-request-button").count() == 0
    page.screenshot(path=str(OUTPUT / SCREENSHOT), full_page=True)
    if os.environ.get("DCOR_UPDATE_SCREENSHOTS"):
        (REPO / "doc").mkdir(exist_ok=True)
        shutil.copy(OUTPUT / SCREENSHOT, REPO / "doc" / SCREENSHOT)

    # 2. the circle's admin sees it on the circle page and grants it
    admin_context = page.context.browser.new_context(
        viewport={"width": 1200, "height": 900})
    try:
        admin_page = admin_context.new_page()
        admin_page.set_default_timeout(30_000)
        log_in(admin_page, site, admin)
        admin_page.goto(f"{site}/organization/{circle['name']}")
        request = admin_page.locator(".dcor-access-request")
        assert request.count() == 1
        text = request.inner_text()
        assert "Rosalind Franklin" in text and user["name"] in text
        assert "Blood cells 2026" in text and "cells-a.rtdc" in text
        assert "I analysed these cells in May." in text
        admin_page.click("button.dcor-grant-button")
        admin_page.wait_for_selector(
            f"text=access request of {user['name']} granted")
        assert admin_page.locator(".dcor-access-request").count() == 0
    finally:
        admin_context.close()

    # 3. the item is readable again, without adding it, and downloads
    page.goto(f"{site}/dashboard/download-list")
    assert page.locator("tr.dcor-unreadable").count() == 0
    row = page.locator(f"tr[data-resource-id='{resource['id']}']")
    assert "cells-a.rtdc" in row.inner_text()
    assert page.inner_text(".dcor-total") == "90.0 kB"
    archive = download(page, lambda: page.click("button.dcor-download-button"),
                       tmp_path)
    digests = archive_digests(archive)
    assert digests[f"{private['name']}/cells-a.rtdc"] == sha256(cells)

    # 4. a query: preview its totals, add it, see the list's totals change
    page.fill("#dcor-query", "name:beads")
    page.click("button.dcor-preview-button")
    page.wait_for_selector(".dcor-preview")
    assert page.inner_text(".dcor-preview-count") == "2"
    assert page.inner_text(".dcor-preview-total") == "70.0 kB"
    button = page.inner_text("button.dcor-query-add-button")
    assert re.sub(r"\s+", " ", button).strip() == "Add 2 files (70.0 kB)"
    page.click("button.dcor-query-add-button")
    page.wait_for_selector("text=2 files added to your download list")
    assert page.inner_text(".dcor-count") == "3"
    assert page.inner_text(".dcor-total") == "160.0 kB"
    assert page.locator("tr.dcor-item").count() == 3
    assert page.inner_text(".dcor-preview-on-list") == "2"
