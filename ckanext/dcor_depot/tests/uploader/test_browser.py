"""The resource form's browser uploader (issue 25, items 2 to 4) in a real
headless Chromium: Uppy on the page, the resource_upload_multipart_*
actions on a live site, the real radosgw and a real worker. The page is
reached through a proxy that counts the bytes CKAN receives. A screenshot
of the uploader mid-upload is saved in test-output/browser/ (with
DCOR_UPDATE_SCREENSHOTS=1 also as doc/browser-upload.png for
doc/clients.rst)."""
import json
import os
import re
import shutil
import time
import urllib.parse

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.workflows import records

from .. import conftest as suite
from ..conftest import REPO, circle_bucket
from ..download_list.test_browser import (  # noqa: F401 (fixtures)
    OUTPUT, PASSWORD, browser_page)
from ..helpers import file_sha256, write_random_file
from .counting_proxy import CountingProxy

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

MIB = 1024**2
BIG = 1536 * MIB  # the "at least 1.5 GiB"
BIG_PART = 64 * MIB
SMALL_PART = 5 * MIB  # S3's smallest part: many parts from a small file
# every request CKAN gets during an upload (actions, pages, assets) is far
# below one part: no file byte passes through CKAN
MAX_BYTES_THROUGH_CKAN = 1 * MIB


def start_site(request, worker_ini, monkeypatch, part_size):
    """The live site behind a counting proxy; the proxy's address is
    ckan.site_url (redirects, and the buckets' CORS origin)."""
    port = suite._free_port()
    proxy = CountingProxy(port)
    request.addfinalizer(proxy.close)
    monkeypatch.setattr(suite, "_free_port", lambda: port)
    text = worker_ini.read_text()
    worker_ini.write_text(text.replace(
        "[app:main]\n", "[app:main]\n"
        f"ckan.site_url = http://127.0.0.1:{proxy.port}\n"
        f"ckanext.dcor_depot.multipart_part_size = {part_size}\n", 1))
    request.getfixturevalue("live_site")
    return f"http://127.0.0.1:{proxy.port}", proxy


@pytest.fixture
def big_part_site(request, worker_ini, monkeypatch):
    return start_site(request, worker_ini, monkeypatch, BIG_PART)


@pytest.fixture
def small_part_site(request, worker_ini, monkeypatch):
    return start_site(request, worker_ini, monkeypatch, SMALL_PART)


def signed_in(page, site):
    """A circle admin with a private dataset, signed in on the page."""
    user = factories.User(password=PASSWORD)
    circle = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    dataset = factories.Dataset(owner_org=circle["id"], private=True,
                                user=user)
    # the page's console and failed requests go to the test's output
    page.on("console", lambda message: print("console:", message.text))
    page.on("response", lambda response: "/api/" in response.url and print(
        "api:", response.status, response.url[-60:]))
    page.on("requestfailed", lambda request: print(
        "request failed:", request.method, request.url[:120],
        request.failure))
    page.goto(f"{site}/user/login")
    page.fill("#field-login", user["name"])
    page.fill("#field-password", PASSWORD)
    page.press("#field-password", "Enter")
    page.wait_for_url(re.compile(r".*/(dashboard|user)/.*"))
    return circle, dataset


# Counts the part PUTs the page sends, in the page itself (Playwright's
# request events miss some while routing is switched off mid-upload)
COUNT_PUTS = """
(() => {
  window.dcorPartPuts = { sent: [], done: [] };
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    const match = method === 'PUT' && /[?&]partNumber=(\\d+)/.exec(url);
    this.dcorPart = match ? Number(match[1]) : null;
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...args) {
    if (this.dcorPart !== null) {
      const part = this.dcorPart;
      window.dcorPartPuts.sent.push(part);
      this.addEventListener('load', () => {
        if (this.status === 200) window.dcorPartPuts.done.push(part);
      });
    }
    return send.apply(this, args);
  };
})();
"""


class PartPuts:
    """The part numbers of the PUTs the current page sent to S3, and of
    those S3 answered with 200 (counted since the page loaded)."""

    def __init__(self, page):
        self.page = page
        page.context.add_init_script(COUNT_PUTS)

    def _read(self, which):
        try:
            return self.page.evaluate(
                f"window.dcorPartPuts ? window.dcorPartPuts.{which} : []")
        except Exception:  # the page is navigating
            return []

    @property
    def sent(self):
        return self._read("sent")

    @property
    def done(self):
        return self._read("done")

    @staticmethod
    def part_number(request):
        if request.method != "PUT":
            return None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        return int(query["partNumber"][0]) if "partNumber" in query else None


def open_form_and_add(page, site, dataset, path):
    page.goto(f"{site}/dataset/{dataset['name']}/resource/new")
    page.wait_for_selector(".uppy-Dashboard")
    # with JavaScript, the uploader replaces CKAN's file field
    assert page.locator(".dcor-classic-file-field").is_hidden()
    page.locator("input.uppy-Dashboard-input").first.set_input_files(
        str(path))
    page.click("button.uppy-StatusBar-actionBtn--upload")


def wait_for(page, condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            page.screenshot(path=str(OUTPUT / "uploader-timeout.png"))
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(200)


def resource_named(dataset, name):
    shown = tk.get_action("package_show")({"ignore_auth": True},
                                          {"id": dataset["id"]})
    matches = [res for res in shown["resources"] if res["name"] == name]
    assert len(matches) == 1, shown["resources"]
    return matches[0]


def assert_stored_and_verified(s3_client, circle, dataset, name, sha256,
                               size):
    """The resource holds the file's sha256, a verified depot copy and an
    object of its bytes."""
    resource = resource_named(dataset, name)
    assert resource["sha256"] == sha256
    assert resource["size"] == size
    assert resource["upload_verification"] == "verified"
    rid = resource["id"]
    head = s3_client.head_object(Bucket=circle_bucket(circle["id"]),
                                 Key=naming.object_key("resource", rid))
    assert head["ContentLength"] == size
    depot_copy = os.path.realpath(records.ckan_path(rid))
    assert depot_copy != records.ckan_path(rid)  # a symlink into the depot
    assert file_sha256(depot_copy) == sha256
    return resource


def no_upload_left(s3_client, circle):
    bucket = circle_bucket(circle["id"])
    return not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_big_file_survives_three_network_cuts_and_nothing_passes_ckan(
        big_part_site, browser_page, run_worker, s3_client, tmp_path):
    site, proxy = big_part_site
    page = browser_page
    path = tmp_path / "big cells.rtdc"
    sha256 = write_random_file(path, BIG, seed=25)
    part_count = -(-BIG // BIG_PART)
    circle, dataset = signed_in(page, site)
    puts = PartPuts(page)

    # cut the network three times: part PUTs fail mid-upload
    cut = []

    def cut_some(route):
        number = PartPuts.part_number(route.request)
        if number is not None and len(cut) < 3 and number in (2, 5, 9) \
                and number not in cut:
            cut.append(number)
            route.abort("connectionreset")
        else:
            route.continue_()

    endpoint = tk.config["dcor_object_store.endpoint_url"].rstrip("/")
    page.route(f"{endpoint}/**", cut_some)
    page.goto(f"{site}/dataset/{dataset['name']}/resource/new")
    page.wait_for_selector(".uppy-Dashboard")
    proxy.reset()
    open_form_and_add(page, site, dataset, path)

    # routing passes every part through Playwright: off after the cuts
    wait_for(page, lambda: len(cut) == 3, 600, "three cuts")
    page.unroute(f"{endpoint}/**")
    # mid-upload (the third cut is at part 9 of 24): the docs' screenshot
    page.screenshot(path=str(OUTPUT / "browser-upload.png"))
    if os.environ.get("DCOR_UPDATE_SCREENSHOTS"):
        shutil.copy(OUTPUT / "browser-upload.png",
                    REPO / "doc" / "browser-upload.png")

    page.wait_for_selector(".dcor-upload-verifying", timeout=900_000)
    through_ckan = proxy.reset()
    assert through_ckan < MAX_BYTES_THROUGH_CKAN, through_ckan
    assert len(puts.sent) <= part_count + 3, puts.sent
    assert sorted(set(puts.sent)) == list(range(1, part_count + 1))

    run_worker(timeout=900)
    page.wait_for_selector(".dcor-upload-verified", timeout=60_000)
    assert sha256 in page.inner_text(".dcor-upload-verified")
    assert_stored_and_verified(s3_client, circle, dataset, path.name,
                               sha256, BIG)
    assert no_upload_left(s3_client, circle)


def test_reload_at_half_sends_only_the_missing_parts(
        small_part_site, browser_page, run_worker, s3_client, tmp_path):
    site, _ = small_part_site
    page = browser_page
    size = 16 * SMALL_PART + 12345
    part_count = 17
    path = tmp_path / "cells.rtdc"
    sha256 = write_random_file(path, size, seed=7)
    circle, dataset = signed_in(page, site)

    # parts past the first half are held back until the page reloads
    held_back = []

    def half_then_hold(route):
        number = PartPuts.part_number(route.request)
        if number is not None and number > part_count // 2:
            held_back.append(route)  # never answered: the reload drops it
        else:
            route.continue_()

    endpoint = tk.config["dcor_object_store.endpoint_url"].rstrip("/")
    page.route(f"{endpoint}/**", half_then_hold)
    before = PartPuts(page)
    open_form_and_add(page, site, dataset, path)
    wait_for(page, lambda: len(before.done) >= part_count // 2 and held_back,
             300,
             "half of the parts")
    # reloaded while the held parts are in flight: they never arrive
    page.reload()
    page.unroute_all(behavior="ignoreErrors")

    bucket = circle_bucket(circle["id"])
    [upload] = s3_client.list_multipart_uploads(Bucket=bucket)["Uploads"]

    # the same file again: the page asks which parts S3 holds (about the
    # first half; a part cut by the reload may still land) and sends only
    # the others
    after = PartPuts(page)
    page.wait_for_selector(".uppy-Dashboard")
    page.locator("input.uppy-Dashboard-input").first.set_input_files(
        str(path))
    with page.expect_response(re.compile(
            r".*/resource_upload_multipart_list_parts")) as listed:
        page.click("button.uppy-StatusBar-actionBtn--upload")
    held = {part["part_number"] for part in listed.value.json()["result"]}
    assert set(range(1, part_count // 2)) <= held
    assert held <= set(range(1, part_count // 2 + 1))
    page.wait_for_selector(".dcor-upload-verifying", timeout=300_000)
    assert sorted(after.sent) == sorted(set(range(1, part_count + 1)) - held)
    assert upload["Key"] == naming.staging_key(
        resource_named(dataset, path.name)["id"])

    run_worker()
    page.wait_for_selector(".dcor-upload-verified", timeout=60_000)
    assert_stored_and_verified(s3_client, circle, dataset, path.name,
                               sha256, size)


def test_cancel_aborts_the_upload_at_once(
        small_part_site, browser_page, s3_client, tmp_path):
    site, _ = small_part_site
    page = browser_page
    path = tmp_path / "cells.rtdc"
    write_random_file(path, 8 * SMALL_PART, seed=3)
    circle, dataset = signed_in(page, site)
    held = []

    def hold_after_two(route):
        number = PartPuts.part_number(route.request)
        if number is not None and number > 2:
            held.append(route)
        else:
            route.continue_()

    endpoint = tk.config["dcor_object_store.endpoint_url"].rstrip("/")
    page.route(f"{endpoint}/**", hold_after_two)
    puts = PartPuts(page)
    open_form_and_add(page, site, dataset, path)
    wait_for(page, lambda: len(puts.done) >= 2 and held, 60, "two parts")
    bucket = circle_bucket(circle["id"])
    [upload] = s3_client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    rid = upload["Key"].rsplit("/", 1)[-1]

    with page.expect_response(re.compile(
            r".*/api/3/action/resource_upload_multipart_abort")) as aborted:
        page.click("button.uppy-StatusBar-actionCircleBtn[data-cy=cancel]")
    assert aborted.value.ok, aborted.value.text()
    page.unroute_all(behavior="ignoreErrors")

    assert no_upload_left(s3_client, circle)
    keys = [item["Key"] for item in s3_client.list_objects_v2(
        Bucket=bucket).get("Contents", [])]
    assert not [key for key in keys if rid.replace("/", "") in
                key.replace("/", "")], keys
    assert tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": dataset["id"]})["resources"] == []


def test_page_tells_a_wrong_sha256(
        small_part_site, browser_page, run_worker, s3_client, tmp_path):
    site, _ = small_part_site
    page = browser_page
    path = tmp_path / "cells.rtdc"
    write_random_file(path, 3 * SMALL_PART + 5, seed=11)
    circle, dataset = signed_in(page, site)

    def wrong_sha256(route):
        body = json.loads(route.request.post_data)
        body["sha256"] = "0" * 64
        route.continue_(post_data=json.dumps(body))

    page.route(re.compile(r".*/api/3/action/resource_upload_multipart_complete"),
               wrong_sha256)
    open_form_and_add(page, site, dataset, path)
    page.wait_for_selector(".dcor-upload-verifying", timeout=300_000)
    run_worker()
    failed = page.wait_for_selector(".dcor-upload-failed", timeout=60_000)
    assert "verification FAILED" in failed.inner_text()
    resource = resource_named(dataset, path.name)
    assert resource["upload_verification"] == "failed"
    page.goto(f"{site}/dataset/{dataset['name']}/resource/{resource['id']}")
    assert "failed verification" in page.inner_text(
        ".dcor-upload-verification")


def test_without_javascript_the_classic_field_uploads(
        small_part_site, browser_page, run_worker, tmp_path):
    site, _ = small_part_site
    signed_in_page = browser_page
    circle, dataset = signed_in(signed_in_page, site)
    # a second context of the same browser, with the session's cookies and
    # without JavaScript
    context = signed_in_page.context.browser.new_context(
        java_script_enabled=False,
        storage_state=signed_in_page.context.storage_state())
    page = context.new_page()
    page.goto(f"{site}/dataset/{dataset['name']}/resource/new")
    assert page.locator("[data-dcor-uploader]").is_hidden()
    assert page.locator(".dcor-classic-file-field").is_visible()
    path = tmp_path / "classic.rtdc"
    sha256 = write_random_file(path, 300_000, seed=5)
    page.set_input_files("#field-resource-upload", str(path))
    page.fill("#field-name", "classic.rtdc")
    page.click("button[name=save][value=go-dataset-complete]")
    page.wait_for_url(re.compile(rf".*/dataset/{dataset['name']}$"))
    context.close()
    resource = resource_named(dataset, "classic.rtdc")
    assert resource["url_type"] == "upload"
    run_worker()
    assert file_sha256(records.ckan_path(resource["id"])) == sha256
