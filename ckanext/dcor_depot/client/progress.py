"""A progress bar of bytes, rate and files (tqdm), shown only on a
terminal."""
from __future__ import annotations

import sys
import threading

from tqdm import tqdm


class Progress:
    def __init__(self, what: str, total_bytes: int, total_files: int,
                 enabled: bool | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._lock = threading.Lock()
        self._files = 0
        self._total_files = total_files
        self._what = what
        self._bar = tqdm(total=total_bytes, unit="B", unit_scale=True,
                         unit_divisor=1024, disable=not enabled,
                         desc=self._desc(), file=sys.stderr)

    def _desc(self) -> str:
        return f"{self._what} {self._files}/{self._total_files} files"

    def add_bytes(self, count: int) -> None:
        self._bar.update(count)

    def file_done(self) -> None:
        with self._lock:
            self._files += 1
            self._bar.set_description(self._desc(), refresh=False)

    def close(self) -> None:
        self._bar.close()
