"""Per-dataset locks in Redis, shared by every worker machine.

Object tags are written read-modify-write and decided from the dataset's
visibility, so two workers (or a long transfer and a visibility change)
could undo each other. Every tag write of a dataset's objects therefore
happens under `dataset_lock`, which re-reads the visibility inside the lock.

A lock expires on its own (`ttl`) when its holder is killed; holders of
long work call `Held.refresh()` between steps to keep it.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from redis.exceptions import LockError

from ckan.lib.redis import connect_to_redis

PREFIX = "ckanext-dcor_depot:lock"


class LockTimeout(RuntimeError):
    """A lock could not be taken in time (another holder kept it)."""


class Held:
    """A lock that is held; `refresh` extends it to a full ttl again."""

    def __init__(self, lock, ttl: int) -> None:
        self._lock = lock
        self._ttl = ttl

    def refresh(self) -> None:
        self._lock.extend(self._ttl, replace_ttl=True)


@contextlib.contextmanager
def _locked(name: str, ttl: int, wait: float) -> Iterator[Held]:
    lock = connect_to_redis().lock(f"{PREFIX}:{name}", timeout=ttl,
                                   blocking_timeout=wait, thread_local=False)
    if not lock.acquire(blocking=True):
        raise LockTimeout(f"lock {name} is held by another worker "
                          f"(waited {wait:.0f} s)")
    try:
        yield Held(lock, ttl)
    finally:
        try:
            lock.release()
        except LockError:
            # it expired while held (the holder stalled past the ttl);
            # nothing is left to release
            pass


def dataset_tags_lock(dataset_id: str, ttl: int = 120,
                      wait: float = 600) -> contextlib.AbstractContextManager:
    """Held while the tags of one dataset's objects are read and written."""
    return _locked(f"dataset-tags:{dataset_id}", ttl, wait)


def dataset_job_lock(dataset_id: str, kind: str, ttl: int = 120,
                     wait: float = 3600) -> contextlib.AbstractContextManager:
    """Held by a job of one `kind` for one dataset for its whole run, so only
    one such job per dataset runs at a time. Refresh it between steps."""
    return _locked(f"dataset-job:{kind}:{dataset_id}", ttl, wait)


def circle_quota_lock(organization_id: str, ttl: int = 60,
                      wait: float = 30) -> contextlib.AbstractContextManager:
    """Held while a circle's room is checked and the bytes are reserved,
    so that two requests at once are decided one after the other."""
    return _locked(f"circle-quota:{organization_id}", ttl, wait)
