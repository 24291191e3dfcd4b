"""Migration of a whole site: resources in threads, their fields saved with
one package_revise per dataset, local files deleted only after that."""
from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from typing import Any, Iterable, Iterator

import ckan.plugins.toolkit as tk

from .. import audit
from ..audit import rules as audit_rules
from . import records
from ..storage import depot, s3
from .migrate import Options, ResourceMigration, local_artifacts, \
    migrate_resource

# (line, is_error): what the command prints
Line = tuple[str, bool]


@dataclasses.dataclass
class Tally:
    migrated: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    deleted: int = 0


class SiteMigration:
    def __init__(self, client: Any, options: Options, jobs: int):
        self.client = client
        self.options = options
        self.jobs = jobs
        self.tally = Tally()
        self._ensured: set[str] = set()
        # one package_revise per dataset instead of one update per resource
        self._field_updates: dict[str, dict[str, dict]] = {}
        # local files are deleted only once the resource fields are saved
        self._deletions: dict[str, list[str]] = {}
        self._unfinished: dict[str, int] = {}
        self._pending: dict[concurrent.futures.Future, tuple] = {}
        self._slots = threading.BoundedSemaphore(2 * jobs)

    def run(self, dataset_ids: Iterable[str]) -> Iterator[Line]:
        """Migrate the datasets; yields the lines to report as it goes."""
        with concurrent.futures.ThreadPoolExecutor(self.jobs) as pool:
            for dataset_id in dataset_ids:
                yield from self._submit_dataset(pool, dataset_id)
            while self._pending:
                yield from self._collect(block=True)

    def _submit_dataset(self, pool, dataset_id: str) -> Iterator[Line]:
        try:
            dataset = records.show_dataset(dataset_id)
        except Exception as exc:  # report and go on
            self.tally.failed += 1
            yield f"{dataset_id}: cannot read the dataset: {exc}", True
            return
        if not dataset.get("owner_org"):
            return
        for resource in dataset.get("resources", []):
            if resource.get("url_type") != "upload":
                continue
            try:
                artifacts = local_artifacts(resource["id"])
            except ValueError as exc:  # CKAN accepts ids clients chose
                self.tally.failed += 1
                yield f"{resource['id']}: {exc}; skipped", True
                continue
            if "resource" not in artifacts:
                continue
            bucket = s3.bucket_for_circle(dataset["owner_org"])
            if bucket not in self._ensured and not self.options.dry_run:
                s3.ensure_bucket(self.client, bucket)
                self._ensured.add(bucket)
            while not self._slots.acquire(timeout=0.1):
                yield from self._collect(block=True)
            future = pool.submit(migrate_resource, self.client, resource,
                                 dataset, artifacts, self.options)
            self._pending[future] = (resource, dataset)
            self._unfinished[dataset["id"]] = \
                self._unfinished.get(dataset["id"], 0) + 1
            yield from self._collect(block=False)

    def _collect(self, block: bool) -> Iterator[Line]:
        if not self._pending:
            return
        done, _ = concurrent.futures.wait(
            list(self._pending), timeout=None if block else 0,
            return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            resource, dataset = self._pending.pop(future)
            self._slots.release()
            try:
                yield from self._finish(future.result())
            except Exception as exc:  # report and go on
                self.tally.failed += 1
                yield f"{resource['id']}: failed: {exc}", True
            self._unfinished[dataset["id"]] -= 1
            if not self._unfinished[dataset["id"]]:
                yield from self._save(dataset["id"])

    def _finish(self, migration: ResourceMigration) -> Iterator[Line]:
        rid = migration.resource["id"]
        self.tally.bytes += migration.sent
        if migration.failures:
            self.tally.failed += 1
            yield (f"{rid}: failed: " + "; ".join(
                f"{artifact}: {reason}"
                for artifact, reason in migration.failures.items()), True)
        elif migration.transferred:
            self.tally.migrated += 1
        else:
            self.tally.skipped += 1
        if migration.transferred:
            yield (f"{rid}: {', '.join(sorted(migration.statuses))} "
                   f"({migration.sent} bytes)", False)
        fields = migration.fields()
        dataset_id = migration.dataset["id"]
        if fields and any(migration.resource.get(k) != v
                          for k, v in fields.items()):
            self._field_updates.setdefault(dataset_id, {})[rid] = fields
        if fields:
            self._deletions.setdefault(dataset_id, []).extend(
                (rid, migration.dataset.get("owner_org"), path)
                for path in migration.deletable())

    def _save(self, dataset_id: str) -> Iterator[Line]:
        updates = self._field_updates.pop(dataset_id, {})
        doomed = self._deletions.pop(dataset_id, [])
        self._unfinished.pop(dataset_id, None)
        if updates:
            revise: dict[str, Any] = {"match": {"id": dataset_id}}
            for rid, fields in updates.items():
                revise[f"update__resources__{rid}"] = fields
            try:
                tk.get_action("package_revise")(records.system_context(),
                                                revise)
            except Exception as exc:  # report and go on
                self.tally.failed += len(updates)
                yield f"{dataset_id}: fields not saved: {exc}", True
                return
        for rid, circle_id, path in doomed:
            removed = depot.remove_local_copy(path)
            self.tally.deleted += removed
            if removed:
                audit.record(audit_rules.MIGRATION_DELETE, circle_id=circle_id,
                             package_id=dataset_id, resource_id=rid,
                             detail={"path": path})
