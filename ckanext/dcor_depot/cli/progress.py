"""Progress bars for long commands."""
from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator

import click


@contextlib.contextmanager
def byte_progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar over bytes; the callback may be called from threads."""
    lock = threading.Lock()
    with click.progressbar(length=max(total, 1), label=label,
                           show_pos=False, show_percent=True) as bar:
        def advance(n: int) -> None:
            with lock:
                bar.update(n)
        yield advance
