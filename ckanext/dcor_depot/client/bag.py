"""`dcor-depot download --bag` and `dcor-depot bag`: datasets as BagIt bags
(RFC 8493) on disk, in the layout of the site's bag archives and of
DCOR-Aid 1.1 (downloads/bagit_layout holds the names and tag files).

Each payload file is downloaded as every download is (`.part`, hashed
while written, renamed once verified, resumed with Range), so a file with
its final name is a verified file. The tag files come last, and the tag
manifest last of all: a bag cut short (Ctrl+C, SIGKILL, a full disk) has
none, and DCOR-Aid's `is_bagged` and a re-run both see it as unfinished.
A bag counts as complete and valid when its tag files are exactly those
the site's record gives now and every payload file has its recorded size
and sha256 (read from the disk, nothing downloaded).

The circle run keeps `circle.jsonlines` (one dataset per line, oldest
first, as DCOR-Aid keeps it) and refuses a folder whose list differs from
the circle's datasets now: bag numbers would no longer match.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
from typing import Any

from ..downloads import bagit_layout
from . import folder_lock
from .api import Api
from .download import Downloader
from .errors import ClientError, NotAuthorized, NotFound
from .folder import file_sha256
from .progress import Progress
from .remote_manifest import manifest_entries
from .reports import DownloadReport, FileResult

CIRCLE_LIST = "circle.jsonlines"


def _seconds(text: Any) -> int:
    try:
        moment = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return 0
    if moment.tzinfo is None:  # CKAN's times are UTC without a zone
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def bagging_time(dataset: dict[str, Any], resource_ids: list[str]) -> int:
    """The bag's latest change, as the site computes it for its archives:
    the dataset's metadata_modified and its files' last changes."""
    by_id = {r["id"]: r for r in dataset.get("resources", [])}
    times = [_seconds(dataset.get("metadata_modified"))]
    for rid in resource_ids:
        resource = by_id.get(rid, {})
        times.append(_seconds(resource.get("last_modified")
                              or resource.get("created")))
    return max(times)


def _write_bytes_atomically(path: pathlib.Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.part")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


class Bagger:
    def __init__(self, api: Api, downloader: Downloader,
                 progress: bool | None = None):
        self.api = api
        self.downloader = downloader
        self.progress_enabled = progress
        self._site_title: str | None = None

    def site_title(self) -> str:
        if self._site_title is None:
            self._site_title = str(
                self.api.get("status_show").get("site_title") or "")
        return self._site_title

    def bag_dataset(self, dataset: str, bag: pathlib.Path, index: int = 1,
                    count: int = 1) -> DownloadReport:
        """Write (or finish) the bag of `dataset` at `bag`."""
        result = self.api.get("dataset_manifest", id=dataset)
        shown = self.api.get("package_show", id=dataset)
        _, entries = manifest_entries(result, bag, self.api.site)
        files = result["files"]
        pending = [e.path for e in entries if not e.sha256]
        if pending:
            raise ClientError(f"dataset {dataset} is not complete: "
                              f"{len(pending)} files have no sha256 yet; a "
                              "bag needs every file, try again later")
        rids = [str(f.get("resource_id") or f["path"]) for f in files]
        names, _ = bagit_layout.payload_names(
            [(rid, e.path.split("/", 1)[1]) for rid, e in zip(rids, entries)],
            [])
        data_folder = bag / bagit_layout.DATA_FOLDER
        entries = [dataclasses.replace(e, local=data_folder / names[rid])
                   for rid, e in zip(rids, entries)]
        dataset_json = bagit_layout.dataset_json(shown)
        payload = [bagit_layout.PayloadFile(names[rid], e.size, e.sha256)
                   for rid, e in zip(rids, entries)]
        payload.append(bagit_layout.PayloadFile(
            bagit_layout.DATASET_JSON, len(dataset_json),
            _sha256(dataset_json)))
        bag_info = bagit_layout.bag_info_text(
            bagging_time=bagging_time(shown, rids), files=payload,
            circle=(shown.get("organization") or {}).get("name") or "",
            index=index, count=count, dataset_name=shown["name"],
            dataset_title=shown.get("title") or "",
            site_title=self.site_title())
        tags = bagit_layout.tag_files(payload, bag_info)
        if _complete(bag, tags, payload):
            return DownloadReport(bag.name, bag, [
                FileResult(e.path, "skipped") for e in entries], [])
        try:
            data_folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClientError(f"cannot create {data_folder}: "
                              f"{exc.strerror or exc}") from None
        with folder_lock.exclusive(bag):
            # whatever else changes, the bag is unfinished from here on
            (bag / bagit_layout.TAG_FILES[-1]).unlink(missing_ok=True)
            progress = Progress(f"bag {bag.name}",
                                sum(e.size for e in entries), len(entries),
                                self.progress_enabled)
            try:
                results = self.downloader._run_all(entries, progress)
            finally:
                progress.close()
            report = DownloadReport(bag.name, bag, results, [])
            if not report.ok:
                return report
            _write_bytes_atomically(data_folder / bagit_layout.DATASET_JSON,
                                    dataset_json)
            wanted = {p.name for p in payload}
            strays = sorted(p.name for p in data_folder.iterdir()
                            if p.name not in wanted)
            if strays:
                raise ClientError(
                    f"{data_folder} holds files the dataset has not "
                    f"({', '.join(strays[:3])}"
                    f"{', ...' if len(strays) > 3 else ''}); move them "
                    "away and run again")
            for name, data in tags:  # the tag manifest last
                _write_bytes_atomically(bag / name, data)
        return report

    def bag_circle(self, circle: str, target: pathlib.Path
                   ) -> list[DownloadReport]:
        """Every active dataset of `circle` the token may read, oldest
        first, one bag each below `target`."""
        try:
            ids = [m[0] for m in self.api.get(
                "member_list", id=circle, object_type="package")]
        except NotFound:
            raise NotFound(f"no such circle: {circle}") from None
        except NotAuthorized:
            raise NotAuthorized(f"the token may not read the circle "
                                f"{circle}") from None
        shown = []
        for dataset_id in ids:
            try:
                dataset = self.api.get("package_show", id=dataset_id)
            except (NotFound, NotAuthorized):
                continue
            if dataset.get("state") == "active":
                shown.append(dataset)
        shown.sort(key=lambda d: (d.get("metadata_created") or "", d["id"]))
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClientError(f"cannot create {target}: "
                              f"{exc.strerror or exc}") from None
        _check_circle_list(target / CIRCLE_LIST, circle, shown)
        reports = []
        for index, dataset in enumerate(shown, start=1):
            bag = target / bagit_layout.bag_folder(index, len(shown),
                                                   dataset["name"])
            reports.append(self.bag_dataset(dataset["id"], bag, index,
                                            len(shown)))
        return reports


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _complete(bag: pathlib.Path, tags: list[tuple[str, bytes]],
              payload: list[bagit_layout.PayloadFile]) -> bool:
    for name, data in tags:
        try:
            if (bag / name).read_bytes() != data:
                return False
        except OSError:
            return False
    for item in payload:
        path = bag / bagit_layout.DATA_FOLDER / item.name
        if not path.is_file() or path.stat().st_size != item.size \
                or file_sha256(path) != item.sha256:
            return False
    return True


def _check_circle_list(path: pathlib.Path, circle: str,
                       datasets: list[dict[str, Any]]) -> None:
    ids = [d["id"] for d in datasets]
    if path.exists():
        try:
            listed = [json.loads(line)["id"] for line in
                      path.read_text("utf-8").split("\n") if line.strip()]
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise ClientError(f"{path} is not a list of datasets: "
                              f"{exc}") from None
        if listed != ids:
            raise ClientError(
                f"{path} does not list the datasets the circle {circle} has "
                f"now ({len(listed)} listed, {len(ids)} now); bag it into a "
                "new folder")
        return
    _write_bytes_atomically(path, "".join(
        json.dumps(d, sort_keys=True) + "\n" for d in datasets
    ).encode("utf-8"))
