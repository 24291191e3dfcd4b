"""What a scrape reports: the counters from Redis, and gauges read now
from RQ (queues) and PostgreSQL (steps not done, storage per circle).
Every read is a fixed number of queries, whatever the site's size."""
from __future__ import annotations

import datetime
from typing import Iterator

import sqlalchemy as sa
from ckan import model
from ckan.lib import jobs as ckan_jobs
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, Metric)
from rq.job import Job

from .. import config as dcor_config
from ..accounting import figures, quota, reservations
from ..accounting import rules as accounting_rules
from ..accounting import store as accounting
from ..fixity import store as fixity_store
from ..resource_state import Step
from ..storage import s3
from . import counters, rules

P = rules.PREFIX

# Resources whose steps are not done, by step, from the resources' fields
# (the move into the depot shows only on the file system, so it is not
# counted here; `ckan run-jobs-dcor-depot` finds those).
_PENDING = sa.text("""
    SELECT
      count(*) FILTER (WHERE r.url_type = 'upload' AND :s3 AND NOT s3_done)
        AS s3,
      count(*) FILTER (WHERE r.url_type = 's3_upload' AND :s3
                       AND NOT has_sha256) AS backup,
      count(*) FILTER (WHERE (has_sha256 IS FALSE OR NOT has_crc32)
                       AND (r.url_type = 's3_upload' AND has_sha256
                            OR r.url_type = 'upload' AND (s3_done OR NOT :s3)))
        AS checksums
    FROM (SELECT r.url_type,
                 lower(coalesce(r.extras::json->>'s3_available', ''))
                   = 'true' AS s3_done,
                 coalesce(r.extras::json->>'sha256', '') <> '' AS has_sha256,
                 r.extras::json->>'crc32' IS NOT NULL AS has_crc32
          FROM resource r JOIN package p ON p.id = r.package_id
          WHERE r.state = 'active' AND p.state = 'active'
            AND r.url_type IN ('upload', 's3_upload')) AS r
""")


class DepotCollector:
    def collect(self) -> Iterator[Metric]:
        yield from _counters()
        yield from _queues()
        yield from _pending_steps()
        yield from _storage()
        yield from _integrity()


def _counters() -> Iterator[Metric]:
    for name, (help_text, label_names) in rules.COUNTERS.items():
        family = CounterMetricFamily(P + name, help_text,
                                     labels=list(label_names))
        for at, value in sorted(counters.read(name).items()):
            family.add_metric(rules.labels_of(at), int(value))
        yield family
    for name, (help_text, label_names, bounds) in rules.HISTOGRAMS.items():
        family = HistogramMetricFamily(P + name, help_text,
                                       labels=list(label_names))
        by_labels: dict[str, dict] = {}
        for raw, value in counters.read(name).items():
            at, part = raw.rsplit("\t", 1)
            by_labels.setdefault(at, {})[part] = value
        for at, parts in sorted(by_labels.items()):
            per_bucket = {int(p[1:]): int(v) for p, v in parts.items()
                          if p.startswith("b")}
            family.add_metric(rules.labels_of(at),
                              rules.cumulative(bounds, per_bucket),
                              float(parts.get("sum", 0)))
        yield family


def _queues() -> Iterator[Metric]:
    depth = GaugeMetricFamily(P + "queue_jobs", "Jobs waiting in a queue",
                              labels=["queue"])
    failed = GaugeMetricFamily(P + "failed_jobs",
                               "Failed jobs kept by a queue",
                               labels=["queue"])
    oldest = GaugeMetricFamily(
        P + "oldest_job_age_seconds",
        "Seconds the oldest waiting job of a queue has waited (0: none)",
        labels=["queue"])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = {dcor_config.jobs_queue()} | {
        ckan_jobs.remove_queue_name_prefix(q.name)
        for q in ckan_jobs.get_all_queues()}
    for name in sorted(names):
        queue = ckan_jobs.get_queue(name)
        label = [name]
        depth.add_metric(label, queue.count)
        failed.add_metric(label, queue.failed_job_registry.count)
        age = 0.0
        first = queue.get_job_ids(0, 1)
        if first:
            job = Job.fetch(first[0], connection=queue.connection)
            if job.enqueued_at is not None:
                enqueued = job.enqueued_at
                if enqueued.tzinfo is None:
                    enqueued = enqueued.replace(tzinfo=datetime.timezone.utc)
                age = max(0.0, (now - enqueued).total_seconds())
        oldest.add_metric(label, age)
    yield from (depth, failed, oldest)


def _pending_steps() -> Iterator[Metric]:
    pending = GaugeMetricFamily(
        P + "resources_pending",
        "Active resources with a step not done, by step",
        labels=["step"])
    row = model.Session.execute(
        _PENDING, {"s3": dcor_config.s3_enabled()}).one()
    pending.add_metric([Step.S3_UPLOAD.value], row.s3)
    pending.add_metric([Step.BACKUP.value], row.backup)
    pending.add_metric([Step.CHECKSUMS.value], row.checksums)
    yield pending


def _storage() -> Iterator[Metric]:
    used = GaugeMetricFamily(P + "circle_bytes",
                             "Bytes a circle's bucket holds, by artifact",
                             labels=["circle", "artifact"])
    files = GaugeMetricFamily(P + "circle_files",
                              "Objects a circle's bucket holds, by artifact",
                              labels=["circle", "artifact"])
    quota_family = GaugeMetricFamily(P + "circle_quota_bytes",
                                     "A circle's quota in bytes (0: none)",
                                     labels=["circle"])
    reserved = GaugeMetricFamily(
        P + "circle_reserved_bytes",
        "Bytes of direct uploads issued to a circle, not yet accepted",
        labels=["circle"])
    in_flight = GaugeMetricFamily(
        P + "uploads_in_flight",
        "Direct uploads issued whose URLs are valid, not yet accepted")
    by_bucket = accounting.used_by_artifact()
    held = reservations.reserved_by_circle()
    own_quotas = quota.quotas()
    default_quota = dcor_config.circle_quota_bytes()
    for circle in figures.circles():
        per_artifact = by_bucket.get(s3.bucket_for_circle(circle.id), {})
        for artifact in accounting_rules.ARTIFACTS:
            size, count = per_artifact.get(artifact, (0, 0))
            used.add_metric([circle.name, artifact], size)
            files.add_metric([circle.name, artifact], count)
        quota_family.add_metric([circle.name],
                                own_quotas.get(circle.id, default_quota))
        reserved.add_metric([circle.name], held.get(circle.id, (0, 0))[0])
    in_flight.add_metric([], sum(n for _, n in held.values()))
    yield from (used, files, quota_family, reserved, in_flight)


def _integrity() -> Iterator[Metric]:
    failed = GaugeMetricFamily(
        P + "resources_integrity_failed",
        "Active resources without any copy that matches their sha256 "
        "(integrity: failed; downloads refuse them)")
    failed.add_metric([], fixity_store.failed_count())
    yield failed


def exposition(accept: str | None) -> tuple[bytes, str]:
    """Every series in the format the scraper accepts (Prometheus' text
    format, or OpenMetrics if asked), as prometheus_client writes it, and
    its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DepotCollector())
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
