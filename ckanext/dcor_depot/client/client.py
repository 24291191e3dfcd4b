"""The library face of the command-line client:

    from ckanext.dcor_depot.client import Client
    client = Client("dcor.example.org", token)
    client.download("my-dataset", "/data/dcor")
"""
from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pathlib

from .. import resource_state
from ..downloads import bagit_layout
from .api import Api
from .bag import Bagger
from .download import DownloadReport, Downloader
from .errors import NotAuthorized, NotFound
from .upload import UploadReport, Uploader


@dataclasses.dataclass
class DatasetSummary:
    name: str
    title: str
    files: int
    total_bytes: int
    state: str
    private: bool


class Client:
    """One site and one API token (`site` may be a bare host name, which
    means https)."""

    def __init__(self, site: str | None, token: str | None, jobs: int = 4,
                 progress: bool | None = None):
        self.api = Api(site, token)
        self.jobs = jobs
        self.progress = progress

    def manifest(self, dataset: str) -> dict[str, Any]:
        """The site's manifest of a dataset (the `dataset_manifest`
        action)."""
        self.api.user_name()
        try:
            return self.api.get("dataset_manifest", id=dataset)
        except NotFound:
            raise NotFound(f"no such dataset: {dataset}") from None
        except NotAuthorized:
            raise NotAuthorized(f"the token of {self.api.user_name()} may "
                                f"not read the dataset {dataset}") from None

    def datasets(self, circle: str | None = None) -> list[DatasetSummary]:
        """The datasets the token may read (of one circle), by name. Reads
        no search index: package_list (public datasets),
        organization_list_for_user and member_list (circles) answer from
        the database."""
        self.api.user_name()
        if circle is not None:
            try:
                ids = self._circle_datasets(circle)
            except NotFound:
                raise NotFound(f"no such circle: {circle}") from None
        else:
            ids = set(self.api.get("package_list"))
            for org in self.api.get("organization_list_for_user",
                                    permission="read"):
                ids |= self._circle_datasets(org["id"])
        with ThreadPoolExecutor(8) as pool:
            shown = list(pool.map(self._show_or_none, sorted(ids)))
        return sorted((_summary(d) for d in shown if d is not None),
                      key=lambda s: s.name)

    def _circle_datasets(self, circle: str) -> set[str]:
        return {member[0] for member in self.api.get(
            "member_list", id=circle, object_type="package")}

    def _show_or_none(self, dataset_id: str) -> dict[str, Any] | None:
        try:
            return self.api.get("package_show", id=dataset_id)
        except (NotFound, NotAuthorized):
            return None  # removed meanwhile, or another circle's private one

    def download(self, dataset: str, target: os.PathLike | str,
                 jobs: int | None = None, partial: bool = False
                 ) -> DownloadReport:
        self.api.user_name()
        try:
            return Downloader(self.api, jobs or self.jobs,
                              self.progress).download(dataset, target,
                                                      partial)
        except NotFound as exc:
            if "dataset_manifest" in str(exc):
                raise NotFound(f"no such dataset: {dataset}") from None
            raise
        except NotAuthorized as exc:
            if "dataset_manifest" in str(exc):
                raise NotAuthorized(f"the token of {self.api.user_name()} "
                                    f"may not read the dataset "
                                    f"{dataset}") from None
            raise

    def bag(self, dataset: str, target: os.PathLike | str,
            jobs: int | None = None) -> DownloadReport:
        """DATASET as the BagIt bag TARGET/01_{name}/ (see client.bag)."""
        self.api.user_name()
        try:
            name = self.api.get("package_show", id=dataset)["name"]
        except NotFound:
            raise NotFound(f"no such dataset: {dataset}") from None
        except NotAuthorized:
            raise NotAuthorized(f"the token of {self.api.user_name()} may "
                                f"not read the dataset {dataset}") from None
        bag = pathlib.Path(target) / bagit_layout.bag_folder(1, 1, name)
        return self._bagger(jobs).bag_dataset(dataset, bag)

    def bag_circle(self, circle: str, target: os.PathLike | str,
                   jobs: int | None = None) -> list[DownloadReport]:
        """Every active dataset of CIRCLE the token may read, one bag each
        below TARGET, with TARGET/circle.jsonlines (see client.bag)."""
        self.api.user_name()
        return self._bagger(jobs).bag_circle(circle, pathlib.Path(target))

    def _bagger(self, jobs: int | None) -> Bagger:
        return Bagger(self.api, Downloader(self.api, jobs or self.jobs,
                                           self.progress), self.progress)

    def upload(self, circle: str, name: str, folder: os.PathLike | str,
               title: str | None = None, private: bool = True,
               jobs: int | None = None) -> UploadReport:
        self.api.user_name()
        return Uploader(self.api, jobs or self.jobs, self.progress).upload(
            circle, name, folder, title, private)


def _summary(dataset: dict[str, Any]) -> DatasetSummary:
    stored = [r for r in dataset.get("resources", [])
              if r.get("url_type") in resource_state.STORED_URL_TYPES]
    return DatasetSummary(
        dataset["name"], dataset.get("title") or "", len(stored),
        sum(int(r.get("size") or 0) for r in stored),
        dataset.get("state", ""), bool(dataset.get("private")))
