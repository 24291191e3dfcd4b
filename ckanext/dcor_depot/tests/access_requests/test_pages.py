"""Access requests on the pages (issue 24, item 1): the download list's
"Request access" form and the states it shows, the circle page's open
requests for its admins only, and grant and decline through its forms,
all without JavaScript and with CKAN's CSRF token."""
import re

import pytest

from ckan import authz
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ..download_list.test_pages import (LIST_PAGE, csrf_token, login,
                                        post_form, text_of, web)  # noqa: F401
from .common import PASSWORD, as_user, item_left_behind

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

REQUEST_FORM = "/dashboard/download-list/request-access"


def request_section(page: str) -> str | None:
    found = re.search(r'<section class="module dcor-access-requests">'
                      r'(.*?)</section>', page, re.S)
    return found.group(1) if found else None


def test_request_from_the_list_page_and_see_its_state(app, web):
    user, admin, circle, dataset, resources = item_left_behind(app)
    rid = resources[0]["id"]
    login(web, user)
    page = text_of(web.get(LIST_PAGE))
    form = re.search(r'<form method="post" action="%s".*?</form>'
                     % REQUEST_FORM, page, re.S).group(0)
    assert 'name="_csrf_token"' in form
    assert re.findall(r'name="resource_id" value="([^"]+)"', form) == [rid]
    answer = post_form(web, REQUEST_FORM, page, resource_id=rid,
                       message="for the paper")
    page = text_of(answer)
    assert "access requested: the answer will show on this page" in page
    assert 'data-state="open"' in page
    assert REQUEST_FORM not in page  # nothing left to ask for
    request = call_action("circle_access_request_list", as_user(admin),
                          id=circle["id"])[0]
    assert request["message"] == "for the paper"
    declined = call_action(
        "circle_access_request_decide", as_user(admin), id=request["id"],
        decision="decline", reason="not before the paper is out")
    assert declined["state"] == "declined"
    page = text_of(web.get(LIST_PAGE))
    assert 'data-state="declined"' in page
    assert "not before the paper is out" in page
    # asked again with a message over 500 characters: one line
    answer = post_form(web, REQUEST_FORM, page, resource_id=rid,
                       message="x" * 501)
    assert "message is 501 characters long, more than the 500 allowed" in \
        text_of(answer)


def test_circle_page_shows_open_requests_to_its_admins_only(app, web):
    user, admin, circle, dataset, resources = item_left_behind(
        app, names=["asked.rtdc", "not-asked.rtdc"])
    editor = factories.User(password=PASSWORD)
    call_action("organization_member_create", as_user(admin),
                id=circle["id"], username=editor["name"], role="editor")
    call_action("download_list_request_access", as_user(user),
                resource_ids=[resources[0]["id"]],
                message="I <3 beads & cells")
    circle_page = f"/organization/{circle['name']}"

    login(web, editor)
    assert request_section(text_of(web.get(circle_page))) is None

    admin_web = app.test_client()
    login(admin_web, admin)
    section = request_section(text_of(admin_web.get(circle_page)))
    assert section is not None
    assert user["name"] in section and user["fullname"] in section
    assert "asked.rtdc" in section and dataset["title"] in section
    assert "not-asked.rtdc" not in section
    assert "I <3 beads & cells" in section
    forms = re.findall(r'<form method="post".*?</form>', section, re.S)
    assert len(forms) == 2
    assert all('name="_csrf_token"' in form for form in forms)


def test_grant_and_decline_through_the_circle_page(app, web):
    user, admin, circle, dataset, resources = item_left_behind(app)
    second, _, other_circle, _, others = item_left_behind(
        app, admin=admin, names=["b.rtdc"])
    first = call_action("download_list_request_access", as_user(user),
                        resource_ids=[resources[0]["id"]])["requests"][0]
    call_action("download_list_request_access", as_user(second),
                resource_ids=[others[0]["id"]])
    circle_page = f"/organization/{circle['name']}"
    login(web, admin)
    page = text_of(web.get(circle_page))
    answer = post_form(web, f"/dashboard/access-requests/{first['id']}"
                       "/decide", page, decision="grant",
                       came_from=circle_page)
    page = text_of(answer)
    assert f"access request of {user['name']} granted" in page
    assert authz.users_role_for_group_or_org(circle["id"],
                                             user["name"]) == "member"
    assert user["name"] not in (request_section(page) or "")
    # the same request again: closed, one line
    answer = post_form(web, f"/dashboard/access-requests/{first['id']}"
                       "/decide", page, decision="decline",
                       came_from=circle_page)
    assert "is closed already" in text_of(answer)
    # a stale CSRF token gets CKAN's 400, and changes nothing
    second_request = call_action(
        "circle_access_request_list", as_user(admin),
        id=other_circle["id"], state="open")[0]
    stale = web.post(f"/dashboard/access-requests/{second_request['id']}"
                     "/decide", data={"decision": "grant",
                                      "_csrf_token": "stale"})
    assert stale.status_code == 400
    assert authz.users_role_for_group_or_org(other_circle["id"],
                                             second["name"]) is None


def test_someone_else_posting_a_decision_gets_403(app, web):
    user, admin, circle, dataset, resources = item_left_behind(app)
    request = call_action("download_list_request_access", as_user(user),
                          resource_ids=[resources[0]["id"]])["requests"][0]
    for who in (user, factories.User(password=PASSWORD)):
        client = app.test_client()
        login(client, who)
        page = text_of(client.get(LIST_PAGE))
        answer = client.post(
            f"/dashboard/access-requests/{request['id']}/decide",
            data={"decision": "grant", "_csrf_token": csrf_token(page)})
        assert answer.status_code == 403
    assert authz.users_role_for_group_or_org(circle["id"],
                                             user["name"]) is None
