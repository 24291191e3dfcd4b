"""The list page's "Add files matching a search" (issue 24, item 2): the
preview first (count, size, how many are on the list, the button or the
refusal), then an add of exactly what was previewed, or a line saying
that the matches changed; without JavaScript, with CKAN's CSRF token."""
import os
import re

import pytest

from ckan.tests import factories
from ckan.tests.helpers import call_action

from ckanext.dcor_depot import config as dcor_config

from ..helpers import upload_resource
from .test_pages import (LIST_PAGE, login, post_form, text_of,
                         user_with_dataset, web)  # noqa: F401

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def add_form(page: str) -> str | None:
    found = re.search(r'<form method="post" action="[^"]*/add" '
                      r'class="dcor-query-add-form">.*?</form>', page, re.S)
    return found.group(0) if found else None


def test_preview_then_add_exactly_that(app, web):
    user, dataset, resources, _ = user_with_dataset(
        app, [1000, 2000, 3000], private=False,
        names=["cells-a.rtdc", "cells-b.rtdc", "notes.txt"])
    call_action("download_list_add", {"user": user["name"]},
                resource_ids=[resources[0]["id"]])
    login(web, user)
    page = text_of(web.get(LIST_PAGE, query_string={"query": "name:cells"}))
    assert re.search(r'dcor-preview-count">2<.*dcor-preview-total">3.0 kB<',
                     page, re.S)
    assert 'dcor-preview-on-list">1<' in page
    form = add_form(page)
    assert 'name="_csrf_token"' in form
    assert "Add 1 files (2.0 kB)" in re.sub(r"\s+", " ", form)
    answer = post_form(web, "/dashboard/download-list/add", page,
                       query="name:cells",
                       digest=re.search(r'name="digest" value="([^"]+)"',
                                        form).group(1),
                       came_from=LIST_PAGE + "?query=name:cells")
    page = text_of(answer)
    assert "1 files added to your download list (2 files, 3.0 kB)" in page
    assert re.search(r'class="dcor-count">2</strong>', page)
    assert "All of them are on your list." in page and not add_form(page)


def test_a_change_after_the_preview_is_said_not_added(app, web):
    user, dataset, resources, _ = user_with_dataset(
        app, [100, 200], private=False)
    login(web, user)
    page = text_of(web.get(LIST_PAGE, query_string={"query": "name:cells"}))
    digest = re.search(r'name="digest" value="([^"]+)"', page).group(1)
    token = factories.APIToken(user=user["name"])["token"]
    upload_resource(app, token, dataset["id"], os.urandom(300),
                    name="cells-late.rtdc")
    answer = post_form(web, "/dashboard/download-list/add", page,
                       query="name:cells", digest=digest,
                       came_from=LIST_PAGE + "?query=name:cells")
    page = text_of(answer)
    assert "changed since the preview; now 3 files (600 bytes) would be " \
           "added" in page
    assert re.search(r'class="dcor-count">0</strong>', page)
    # the page previews again: the new figures and button
    assert "Add 3 files (600 bytes)" in re.sub(r"\s+", " ", add_form(page))


def test_over_the_limit_and_bad_queries_show_one_line(app, web, monkeypatch,
                                                      ckan_config):
    monkeypatch.setitem(ckan_config, dcor_config.DOWNLOAD_LIST_MAX_FILES, 1)
    user, dataset, resources, _ = user_with_dataset(
        app, [100, 200], private=False)
    login(web, user)
    page = text_of(web.get(LIST_PAGE, query_string={"query": "name:cells"}))
    assert not add_form(page)
    refusal = re.search(r'dcor-preview-refusal">(.*?)<', page).group(1)
    assert refusal == ("not added: the download list holds 0 files "
                       "(0 bytes) and this would add 2 files (300 bytes), "
                       "over the limit of 1 files and 2.0 GB")
    page = text_of(web.get(LIST_PAGE, query_string={"query": "colour:red"}))
    assert re.search(r'dcor-preview-error">not a resource_search query '
                     r'\(Field "colour" not recognised', page)
