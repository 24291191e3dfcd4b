"""Pure rules of access requests: states, the checks of a message, reason
and decision, and the e-mail an admin gets. No I/O here."""
from __future__ import annotations

from typing import Iterable, NamedTuple

OPEN, GRANTED, DECLINED = "open", "granted", "declined"
STATES = (OPEN, GRANTED, DECLINED)
DECISIONS = {"grant": GRANTED, "decline": DECLINED}
MAX_TEXT = 500  # characters of a message or a reason
# the capacity a granted request gives (CKAN's organization roles)
GRANTED_ROLE = "member"


def text(value: object, key: str) -> str:
    """A message or reason: optional, a string of at most MAX_TEXT
    characters (after stripping); ValueError with one line otherwise."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ValueError(f"{key} is {len(value)} characters long, more than "
                         f"the {MAX_TEXT} allowed")
    return value


def decision(value: object) -> str:
    """The state a decision leads to; ValueError for anything else."""
    if not isinstance(value, str) or value.strip() not in DECISIONS:
        raise ValueError("decision must be grant or decline, not "
                         f"{value!r}")
    return DECISIONS[value.strip()]


def latest_states(rows: Iterable[tuple[str, str, str | None]]
                  ) -> dict[str, tuple[str, str | None]]:
    """resource id -> (state, reason) of the newest request naming it,
    from (resource id, state, reason) rows ordered newest first."""
    states: dict[str, tuple[str, str | None]] = {}
    for resource_id, state, reason in rows:
        states.setdefault(resource_id, (state, reason))
    return states


class FileLine(NamedTuple):
    dataset: str
    resource: str


def admin_mail(site_title: str, circle_title: str, requester: str,
               files: list[FileLine], message: str, circle_url: str
               ) -> tuple[str, str]:
    """Subject and plain-text body of the mail to a circle's admins."""
    subject = f"[{site_title}] {requester} asks for access to " \
              f"{circle_title}"
    lines = [f"{requester} asks to join the circle {circle_title} as a "
             "member, to read these files on their download list:", ""]
    lines += [f"  - {line.dataset} / {line.resource}" for line in files]
    if message:
        lines += ["", "Their message:", ""]
        lines += [f"  {line}" for line in message.splitlines()]
    lines += ["", f"Grant or decline on the circle's page: {circle_url}"]
    return subject, "\n".join(lines) + "\n"
