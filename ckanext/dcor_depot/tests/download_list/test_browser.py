"""The download list in a real headless Chromium (issue 16, item 4):
Debian's chromium driven by Playwright over a real CKAN server and a real
worker. A failing run leaves a screenshot and the page's HTML in
test-output/browser/. The list page's screenshot is saved there too (with
DCOR_UPDATE_SCREENSHOTS=1 also as doc/download-list.png for the docs'
concepts page)."""
import hashlib
import os
import pathlib
import re
import shutil
import tarfile
import zipfile

import pytest

from ckan.tests import factories

from .. import conftest as suite
from ..conftest import REPO
from ..helpers import upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

CHROMIUM = "/usr/bin/chromium"
OUTPUT = REPO / "test-output" / "browser"
PASSWORD = "correct horse battery 42"
MAX_FILES = 3  # the site's download_list_max_files in this test


@pytest.fixture
def browser_site(request, worker_ini, monkeypatch):
    """The live site with a small download list limit, and its own address
    as ckan.site_url: CKAN's redirects (after a login or a form) lead to
    site_url, which a browser follows."""
    port = suite._free_port()
    monkeypatch.setattr(suite, "_free_port", lambda: port)
    text = worker_ini.read_text()
    worker_ini.write_text(text.replace(
        "[app:main]\n", "[app:main]\n"
        f"ckan.site_url = http://127.0.0.1:{port}\n"
        f"ckanext.dcor_depot.download_list_max_files = {MAX_FILES}\n", 1))
    return request.getfixturevalue("live_site")


@pytest.fixture
def browser_page(request):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/stack.sh up installs "
                    "Debian's chromium")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        # root (CI containers) cannot use Chromium's sandbox
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox"] if os.geteuid() == 0 else [])
        context = browser.new_context(accept_downloads=True,
                                      viewport={"width": 1200,
                                                "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        if getattr(request.node, "failed", False):
            stem = OUTPUT / request.node.name
            try:
                page.screenshot(path=f"{stem}-failure.png", full_page=True)
                pathlib.Path(f"{stem}-failure.html").write_text(
                    page.content())
            except Exception as exc:  # the report is about the failure
                print(f"could not save the failing page: {exc}")
        context.close()
        browser.close()


def stored_dataset(app, user, files, private=True):
    circle = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    dataset = factories.Dataset(owner_org=circle["id"], private=private,
                                user=user)
    token = factories.APIToken(user=user["name"])["token"]
    resources = [upload_resource(app, token, dataset["id"], data, name=name)
                 for name, data in files.items()]
    return dataset, resources


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_digests(path: pathlib.Path) -> dict[str, str]:
    """member -> sha256 of its bytes."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return {name: sha256(archive.read(name))
                    for name in archive.namelist()}
    with tarfile.open(path) as archive:
        return {member.name: sha256(archive.extractfile(member).read())
                for member in archive.getmembers()}


def manifest_lines(digests_and_data: dict[str, bytes]) -> set[str]:
    return {f"{sha256(data)}  {path}"
            for path, data in digests_and_data.items()}


def download(page, click, folder: pathlib.Path) -> pathlib.Path:
    with page.expect_download(timeout=60_000) as info:
        click()
    got = info.value
    assert got.failure() is None, got.failure()
    target = folder / got.suggested_filename
    got.save_as(target)
    return target


def test_download_list_in_a_real_browser(app, browser_site, run_worker,
                                         browser_page, tmp_path):
    page, site = browser_page, browser_site
    user = factories.User(password=PASSWORD)
    files_a = {"alpha.rtdc": os.urandom(120_000),
               "beta.rtdc": os.urandom(80_000)}
    files_b = {"gamma.rtdc": os.urandom(50_000),
               "delta.rtdc": os.urandom(60_000),
               "epsilon.rtdc": os.urandom(70_000)}
    dataset_a, resources_a = stored_dataset(app, user, files_a)
    dataset_b, resources_b = stored_dataset(app, user, files_b)
    run_worker()

    # 1. log in through CKAN's form
    page.goto(f"{site}/user/login")
    page.fill("#field-login", user["name"])
    page.fill("#field-password", PASSWORD)
    page.press("#field-password", "Enter")
    page.wait_for_url(re.compile(r".*/(dashboard|user)/.*"))

    # 2. a whole dataset, and a single resource of another
    page.goto(f"{site}/dataset/{dataset_a['name']}")
    page.click("button.dcor-add-dataset")
    page.wait_for_selector(".dcor-all-on-list")
    assert "2 files added to your download list" in page.content()
    page.goto(f"{site}/dataset/{dataset_b['name']}/resource/"
              f"{resources_b[0]['id']}")
    page.click("button.dcor-add-resource")
    page.wait_for_selector("a.dcor-on-list")

    # 3. the totals
    page.goto(f"{site}/dashboard/download-list")
    assert page.locator("tr.dcor-item").count() == 3
    assert page.inner_text(".dcor-count") == "3"
    assert page.inner_text(".dcor-total") == "250.0 kB"
    assert "Download list (3)" in page.inner_text(".nav-tabs")
    page.select_option("#dcor-speed", "10")  # submits: no button needed
    page.wait_for_url(re.compile(r".*speed=10"))
    assert page.inner_text(".dcor-estimate-time") == "under a second"

    # 4. remove one item, rename the list
    page.check(f"#remove-{resources_a[1]['id']}")
    page.click("button.dcor-remove-selected")
    page.wait_for_selector("text=removed; 2 files left")
    assert page.locator("tr.dcor-item").count() == 2
    page.fill("#dcor-name", "my cells")
    page.click("button.dcor-rename-button")
    page.wait_for_selector("text=the list's archive is now named my cells")
    assert page.input_value("#dcor-name") == "my cells"
    page.screenshot(path=str(OUTPUT / "download-list.png"), full_page=True)
    if os.environ.get("DCOR_UPDATE_SCREENSHOTS"):
        (REPO / "doc").mkdir(exist_ok=True)
        shutil.copy(OUTPUT / "download-list.png",
                    REPO / "doc" / "download-list.png")

    # 5. Download: the browser's download, its members and sha256s
    archive = download(page, lambda: page.click("button.dcor-download-button"),
                       tmp_path)
    assert archive.name == "my cells.zip"
    expected = {f"{dataset_a['name']}/alpha.rtdc": files_a["alpha.rtdc"],
                f"{dataset_b['name']}/gamma.rtdc": files_b["gamma.rtdc"]}
    digests = archive_digests(archive)
    assert list(digests) == list(expected) + ["MANIFEST.sha256"]
    for path, data in expected.items():
        assert digests[path] == sha256(data)
    with zipfile.ZipFile(archive) as opened:
        manifest = opened.read("MANIFEST.sha256").decode()
    assert set(manifest.splitlines()) == manifest_lines(expected)

    # 6. over the limit: refused, on the page, and nothing added
    page.goto(f"{site}/dataset/{dataset_b['name']}")
    page.click("button.dcor-add-dataset")
    refusal = page.wait_for_selector("text=not added: the download list")
    assert refusal.inner_text().strip().endswith(
        f"over the limit of {MAX_FILES} files and 2.0 GB")
    assert "would add 2 files" in refusal.inner_text()
    page.goto(f"{site}/dashboard/download-list")
    assert page.locator("tr.dcor-item").count() == 2

    # 7. the dataset page's "Download all"
    page.goto(f"{site}/dataset/{dataset_b['name']}")
    assert page.inner_text(".dcor-download-all .dcor-total") == "180.0 kB"
    archive = download(page, lambda: page.click("a.dcor-download-tar"),
                       tmp_path)
    assert archive.name == f"{dataset_b['name']}.tar"
    digests = archive_digests(archive)
    assert list(digests) == [f"{dataset_b['name']}/{name}"
                             for name in files_b] + ["MANIFEST.sha256"]
    for name, data in files_b.items():
        assert digests[f"{dataset_b['name']}/{name}"] == sha256(data)

    # 8. the sha256 on a resource page is the file's
    page.goto(f"{site}/dataset/{dataset_a['name']}/resource/"
              f"{resources_a[1]['id']}")
    shown = page.input_value("input.dcor-sha256")
    assert shown == sha256(files_a["beta.rtdc"])
    assert page.inner_text(".dcor-local-copy") == "verified"
    assert page.inner_text(".dcor-object-store") == "stored"
