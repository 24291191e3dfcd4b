"""The audit trail: an append-only table of every storage operation and
every grant of private bytes (presigned URLs, archives).

- `rules`: pure (names of actions and actors, bounded details, cursors);
- `actor`: who acts (a context variable set by jobs and commands; the
  request's user otherwise);
- `store`: writing (`record`, never raising) and reading the table.

Where each event is written, and in which transaction, is described in
doc/architecture.rst ("Audit trail").
"""
from __future__ import annotations

from .actor import acting_as, current_actor
from .store import record, record_rows

__all__ = ["acting_as", "current_actor", "record", "record_rows"]
