"""Tells a circle's admins of a new access request by e-mail, through
CKAN's mailer (smtp.* settings). Mail never stops a request: a site
without a reachable SMTP server, or an admin without an address, gets
one log line instead (the request is committed before any mail)."""
from __future__ import annotations

import logging

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib import mailer

from . import rules

log = logging.getLogger(__name__)


def circle_admins(organization_id: str) -> list[model.User]:
    """The circle's active admins (CKAN's organization members with the
    admin capacity)."""
    return model.Session.query(model.User).join(
        model.Member, model.Member.table_id == model.User.id).filter(
        model.Member.group_id == organization_id,
        model.Member.table_name == "user",
        model.Member.capacity == "admin",
        model.Member.state == "active",
        model.User.state == "active").order_by(model.User.name).all()


def tell_admins(circle: model.Group, requester: model.User,
                files: list[rules.FileLine], message: str) -> int:
    """Mail every admin of the circle; returns how many mails were sent."""
    subject, body = rules.admin_mail(
        tk.config.get("ckan.site_title") or "CKAN",
        circle.title or circle.name,
        f"{requester.display_name} ({requester.name})", files, message,
        tk.url_for("organization.read", id=circle.name, _external=True))
    sent, failed = 0, []
    for admin in circle_admins(circle.id):
        try:
            mailer.mail_user(admin, subject, body)
        except Exception as exc:  # noqa: BLE001 (the request is made)
            # CKAN's mailer raises MailerException when it cannot connect,
            # but e.g. AttributeError when smtp.mail_from is unset
            failed.append((admin.name, str(exc).strip() or
                           type(exc).__name__))
        else:
            sent += 1
    if failed:  # one line per request, however many admins
        log.warning("access request of %s to circle %s: no mail to %s: %s",
                    requester.name, circle.name,
                    ", ".join(name for name, _ in failed), failed[0][1])
    return sent
