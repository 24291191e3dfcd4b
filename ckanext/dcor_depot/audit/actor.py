"""Who acts: set by the job runner (`job:<step>`) and by the commands
(`cli:<command>`); in a web request it is the logged-in user's id."""
from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

_ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dcor_depot_audit_actor", default=None)

NOBODY = "anonymous"


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Events recorded inside are by `actor` unless they name another."""
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def current_actor() -> str:
    actor = _ACTOR.get()
    if actor:
        return actor
    return _request_user() or NOBODY


def _request_user() -> str | None:
    try:
        import ckan.plugins.toolkit as tk
        from flask import has_request_context
        if not has_request_context():
            return None
        user = tk.current_user
        return getattr(user, "id", None) or None
    except Exception:  # no CKAN, no app: nobody known
        return None
