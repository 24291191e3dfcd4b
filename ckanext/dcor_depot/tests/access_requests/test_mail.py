"""The circle's admins are told of an access request by e-mail through
CKAN's mailer (issue 24, item 1): a local SMTP server (aiosmtpd) started
by the test receives what CKAN really sent. Without a reachable SMTP
server the request is made all the same, with one log line."""
import email
import email.policy
import logging
import socket

import pytest

from ckan.tests import factories
from ckan.tests.helpers import call_action

from .common import (as_user, circle_with_files, item_left_behind, leave,
                     request_access)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content,
                                           policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_inbox(ckan_config, monkeypatch):
    controller_module = pytest.importorskip("aiosmtpd.controller")
    inbox = Inbox()
    port = free_port()
    controller = controller_module.Controller(inbox, hostname="127.0.0.1",
                                              port=port)
    controller.start()
    monkeypatch.setitem(ckan_config, "smtp.server", f"127.0.0.1:{port}")
    monkeypatch.setitem(ckan_config, "smtp.mail_from", "dcor@example.org")
    yield inbox
    controller.stop()


def test_every_admin_of_the_circle_gets_a_mail(app, smtp_inbox):
    first_admin = factories.User(email="first-admin@example.org")
    second_admin = factories.User(email="second-admin@example.org")
    editor = factories.User(email="editor@example.org")
    user = factories.User(fullname="Ada Lovelace")
    circle, dataset, resources = circle_with_files(
        app, first_admin, ["cells.rtdc", "beads.rtdc"],
        members=[(second_admin, "admin"), (editor, "editor"),
                 (user, "member")])
    # an item of another circle on the list, unreadable, not requested
    other_admin = factories.User(email="other-admin@example.org")
    other_circle, _, others = circle_with_files(
        app, other_admin, ["secret-other.rtdc"], members=[(user, "member")])
    call_action("download_list_add", as_user(user), resource_ids=[
        resources[0]["id"], resources[1]["id"], others[0]["id"]])
    leave(circle, user, first_admin)
    leave(other_circle, user, other_admin)

    request_access(user, [resources[0]["id"]],
                   message="For my thesis on beads.\nThanks!")
    got = sorted(smtp_inbox.messages, key=lambda pair: pair[0])
    assert [to for to, _ in got] == [["first-admin@example.org"],
                                     ["second-admin@example.org"]]
    for _, message in got:
        assert message["From"].addresses[0].addr_spec == "dcor@example.org"
        assert "Ada Lovelace" in message["Subject"]
        assert circle["title"] in message["Subject"]
        body = message.get_content()
        assert f"Ada Lovelace ({user['name']})" in body
        assert f"{dataset['title']} / cells.rtdc" in body
        assert "For my thesis on beads." in body and "Thanks!" in body
        assert f"/organization/{circle['name']}" in body
        # nothing of the requester's other items
        assert "beads.rtdc" not in body
        assert "secret-other.rtdc" not in body
    # asked again while open: no second mail
    request_access(user, [resources[0]["id"]])
    assert len(smtp_inbox.messages) == 2


def test_without_smtp_the_request_is_made_with_one_log_line(
        app, ckan_config, monkeypatch, caplog):
    monkeypatch.setitem(ckan_config, "smtp.server",
                        f"127.0.0.1:{free_port()}")  # nobody listens
    monkeypatch.setitem(ckan_config, "smtp.mail_from", "dcor@example.org")
    second_admin = factories.User()
    user, admin, circle, dataset, resources = item_left_behind(app)
    call_action("organization_member_create", as_user(admin),
                id=circle["id"], username=second_admin["name"],
                role="admin")
    # CKAN 2.11 configures logging from the ini, whose "ckanext" logger
    # does not propagate to caplog's root handler: listen on it directly
    ckanext_logger = logging.getLogger("ckanext")
    ckanext_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING):
            result = request_access(user, [resources[0]["id"]], message="hi")
    finally:
        ckanext_logger.removeHandler(caplog.handler)
    assert result["requests"][0]["created"] is True
    lines = [record for record in caplog.records
             if record.name.startswith("ckanext.dcor_depot")]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    line = lines[0].getMessage()
    assert "\n" not in line and user["name"] in line
    assert admin["name"] in line and second_admin["name"] in line
    assert call_action("circle_access_request_list", as_user(admin),
                       id=circle["id"])[0]["state"] == "open"
