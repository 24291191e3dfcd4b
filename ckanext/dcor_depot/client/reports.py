"""What a download or an upload did, file by file, and the summary line
the CLI ends with."""
from __future__ import annotations

import dataclasses
import pathlib


@dataclasses.dataclass
class FileResult:
    path: str
    status: str      # "fetched", "skipped" (already there) or "failed"
    fetched_bytes: int = 0
    resumed_at: int = 0
    error: str | None = None


@dataclasses.dataclass
class DownloadReport:
    dataset: str
    folder: pathlib.Path
    files: list[FileResult]
    pending: list[str]   # files without sha256 yet (--partial)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def fetched_bytes(self) -> int:
        return sum(f.fetched_bytes for f in self.files)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def summary(self) -> str:
        text = (f"{self.dataset}: {self.count('fetched')} fetched, "
                f"{self.count('skipped')} already present, "
                f"{self.count('failed')} failed, "
                f"{self.fetched_bytes} bytes transferred")
        if self.pending:
            text += f", {len(self.pending)} not yet verifiable (left out)"
        return text + f" -> {self.folder}"


@dataclasses.dataclass
class UploadReport:
    dataset: str
    dataset_id: str
    uploaded: list[str]
    skipped: list[str]
    transferred_bytes: int

    def summary(self) -> str:
        return (f"{self.dataset}: {len(self.uploaded)} uploaded, "
                f"{len(self.skipped)} already stored, "
                f"{self.transferred_bytes} bytes transferred; the dataset "
                "is active")
