"""The download list page offers BagIt beside zip and tar (issue 28,
item 3): the form, posted as a browser without JavaScript posts it, gives
one bag per dataset that bagit.py validates."""
import io
import pathlib
import re
import subprocess
import sys
import tarfile

import pytest

from ckan.tests.helpers import call_action

from .test_pages import (LIST_PAGE, csrf_token, login, text_of,
                         user_with_dataset)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

BAGIT_PY = str(pathlib.Path(sys.executable).with_name("bagit.py"))


@pytest.fixture
def web(app):
    return app.test_client()


def test_list_page_downloads_one_bag_per_dataset(app, web, run_worker,
                                                 tmp_path):
    user, first, _, _ = user_with_dataset(app, [1000, 2000])
    _, second, _, _ = user_with_dataset(app, [3000], user=user)
    run_worker()
    for dataset in (first, second):
        call_action("download_list_add", {"user": user["name"]},
                    dataset_id=dataset["id"])
    login(web, user)
    page = text_of(web.get(LIST_PAGE))
    form = next(f for f in re.findall(r'<form method="post".*?</form>',
                                      page, re.S) if "/download/archive" in f)
    assert re.search(r'<input type="checkbox" name="layout" value="bagit"'
                     r'[^>]*> BagIt</label>', form)
    assert form.index('value="zip"') < form.index('value="tar"') \
        < form.index('value="bagit"')
    answer = web.post("/download/archive", data={
        "_csrf_token": csrf_token(page), "comptype": "tar",
        "layout": "bagit", "name": "download",
        "resource": re.findall(r'name="resource" value="([^"]+)"', form)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with tarfile.open(fileobj=io.BytesIO(answer.get_data())) as archive:
        archive.extractall(tmp_path / "out")
    bags = sorted(p for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert [b.name for b in bags] == [f"01_{first['name']}",
                                      f"02_{second['name']}"]
    for bag in bags:
        checked = subprocess.run([BAGIT_PY, "--validate", str(bag)],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
