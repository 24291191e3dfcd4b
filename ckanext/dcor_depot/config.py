"""Typed accessors for the options in config_declaration.yaml.

Every value is read through this module, so a key is spelled in one place.
`check_config` runs at start-up and stops CKAN on a wrong value.
"""
from __future__ import annotations

import os
import socket
import string
from typing import Any, Mapping

import ckan.plugins.toolkit as tk
from ckan.exceptions import CkanConfigurationException

from . import outbox_rules, transfer_plan

S3_ENDPOINT_URL = "dcor_object_store.endpoint_url"
S3_ACCESS_KEY_ID = "dcor_object_store.access_key_id"
S3_SECRET_ACCESS_KEY = "dcor_object_store.secret_access_key"
S3_SSL_VERIFY = "dcor_object_store.ssl_verify"
S3_BUCKET_NAME = "dcor_object_store.bucket_name"
S3_REGION_NAME = "dcor_object_store.region_name"
S3_PART_SIZE = "ckanext.dcor_depot.s3_part_size"
S3_MAX_CONCURRENCY = "ckanext.dcor_depot.s3_max_concurrency"
S3_MAX_ATTEMPTS = "ckanext.dcor_depot.s3_max_attempts"
DEPOTS_PATH = "ckanext.dcor_depot.depots_path"
USERS_DEPOT_NAME = "ckanext.dcor_depot.users_depot_name"
FIGSHARE_API_URL = "ckanext.dcor_depot.figshare_api_url"
JOBS_QUEUE = "ckanext.dcor_depot.jobs_queue"
JOB_TIMEOUT = "ckanext.dcor_depot.job_timeout"
JOB_RETRY_INTERVALS = "ckanext.dcor_depot.job_retry_intervals"
OUTBOX_SWEEP_INTERVAL = "ckanext.dcor_depot.outbox_sweep_interval"
UPLOAD_URL_EXPIRY = "ckanext.dcor_depot.upload_url_expiry"
UPLOAD_MAX_PART_SIZE = "ckanext.dcor_depot.upload_max_part_size"
MULTIPART_PART_SIZE = "ckanext.dcor_depot.multipart_part_size"
MULTIPART_UPLOAD_LIFETIME = "ckanext.dcor_depot.multipart_upload_lifetime"
MULTIPART_PART_URL_EXPIRY = "ckanext.dcor_depot.multipart_part_url_expiry"
DOWNLOAD_URL_EXPIRY = "ckanext.dcor_depot.download_url_expiry"
DOWNLOAD_PROVIDERS = "ckanext.dcor_depot.download_providers"
DOWNLOAD_ACCEL_REDIRECT = "ckanext.dcor_depot.download_accel_redirect"
ARCHIVE_MAX_FILES = "ckanext.dcor_depot.archive_max_files"
ARCHIVE_MAX_BYTES = "ckanext.dcor_depot.archive_max_bytes"
ARCHIVE_PROVIDERS = "ckanext.dcor_depot.archive_providers"
ARCHIVE_MAX_DATASETS = "ckanext.dcor_depot.archive_max_datasets"
DELETED_GRACE_DAYS = "ckanext.dcor_depot.deleted_grace_days"
FIGSHARE_MAX_ATTEMPTS = "ckanext.dcor_depot.figshare_max_attempts"
DOWNLOAD_LIST_MAX_FILES = "ckanext.dcor_depot.download_list_max_files"
DOWNLOAD_LIST_MAX_BYTES = "ckanext.dcor_depot.download_list_max_bytes"
CIRCLE_QUOTA_BYTES = "ckanext.dcor_depot.circle_quota_bytes"
METRICS_TOKEN = "ckanext.dcor_depot.metrics_token"
STORAGE_PATH = "ckan.storage_path"



def _template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template)
            if name is not None}


def _fail(key: str, problem: str, value: Any) -> None:
    raise CkanConfigurationException(f"{key}: {problem} (got {value!r})")


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise CkanConfigurationException naming the first wrong key."""
    template = str(cfg.get(S3_BUCKET_NAME) or "")
    try:
        fields = _template_fields(template)
    except ValueError:
        _fail(S3_BUCKET_NAME, "is not a valid template", template)
    if fields != {"organization_id"}:
        _fail(S3_BUCKET_NAME,
              "must contain {organization_id} and no other field", template)

    depots = str(cfg.get(DEPOTS_PATH) or "")
    if not os.path.isabs(depots):
        _fail(DEPOTS_PATH, "must be an absolute path", depots)

    users_depot = str(cfg.get(USERS_DEPOT_NAME) or "")
    try:
        users_fields = _template_fields(users_depot)
    except ValueError:
        _fail(USERS_DEPOT_NAME, "is not a valid template", users_depot)
    if not users_depot or users_fields - {"hostname"} or "/" in users_depot \
            or users_depot in (".", ".."):
        _fail(USERS_DEPOT_NAME,
              "must be a folder name with at most the field {hostname}",
              users_depot)


    for key in (S3_ENDPOINT_URL, FIGSHARE_API_URL):
        url = str(cfg.get(key) or "")
        if url and not url.startswith(("http://", "https://")):
            _fail(key, "must be an http:// or https:// URL", url)

    _check_int(cfg, S3_PART_SIZE, transfer_plan.MIN_PART_SIZE,
               transfer_plan.MAX_PART_SIZE)
    _check_int(cfg, S3_MAX_CONCURRENCY, 1, 64)
    _check_int(cfg, S3_MAX_ATTEMPTS, 1, 50)
    _check_int(cfg, JOB_TIMEOUT, 60, 30 * 24 * 3600)
    _check_int(cfg, UPLOAD_URL_EXPIRY, 60, 7 * 24 * 3600)
    # at least twice S3's minimum part, so that equal parts stay above it
    _check_int(cfg, UPLOAD_MAX_PART_SIZE, 2 * transfer_plan.MIN_PART_SIZE,
               transfer_plan.MAX_PART_SIZE)
    _check_int(cfg, MULTIPART_PART_SIZE, transfer_plan.MIN_PART_SIZE,
               transfer_plan.MAX_PART_SIZE)
    # an unfinished upload must end (with its last part URL) before the
    # record of its id is forgotten, 7 days after it was issued
    _check_int(cfg, MULTIPART_UPLOAD_LIFETIME, 3600, 6 * 24 * 3600)
    _check_int(cfg, MULTIPART_PART_URL_EXPIRY, 60, 3600)
    _check_int(cfg, DOWNLOAD_URL_EXPIRY, 60, 7 * 24 * 3600)
    _check_int(cfg, ARCHIVE_MAX_FILES, 1, 1_000_000)
    _check_int(cfg, ARCHIVE_MAX_DATASETS, 1, 1_000_000)
    _check_int(cfg, ARCHIVE_MAX_BYTES, 0, 2**63 - 1)
    accel = str(cfg.get(DOWNLOAD_ACCEL_REDIRECT) or "")
    if accel and not (accel.startswith("/") and accel.endswith("/")):
        _fail(DOWNLOAD_ACCEL_REDIRECT,
              "must be an internal location starting and ending with /",
              accel)
    _check_int(cfg, DELETED_GRACE_DAYS, 0, 100 * 365)
    _check_int(cfg, FIGSHARE_MAX_ATTEMPTS, 1, 50)
    _check_int(cfg, DOWNLOAD_LIST_MAX_FILES, 1, 10_000)
    _check_int(cfg, DOWNLOAD_LIST_MAX_BYTES, 0, 2**63 - 1)
    _check_int(cfg, CIRCLE_QUOTA_BYTES, 0, 2**63 - 1)
    if not str(cfg.get(JOBS_QUEUE) or "").strip():
        _fail(JOBS_QUEUE, "must not be empty", cfg.get(JOBS_QUEUE))
    _check_int(cfg, OUTBOX_SWEEP_INTERVAL, 1, 3600)
    try:
        outbox_rules.parse_intervals(str(cfg.get(JOB_RETRY_INTERVALS) or ""))
    except ValueError as exc:
        _fail(JOB_RETRY_INTERVALS, f"must be seconds, e.g. '60 300': {exc}",
              cfg.get(JOB_RETRY_INTERVALS))


def _check_int(cfg: Mapping[str, Any], key: str, low: int, high: int) -> None:
    value = cfg.get(key)
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        _fail(key, "must be a whole number", value)
    if not low <= number <= high:
        _fail(key, f"must be between {low} and {high}", value)


# Object store

def s3_enabled() -> bool:
    return bool(s3_endpoint_url() and s3_access_key_id()
                and s3_secret_access_key())


def s3_endpoint_url() -> str:
    return (tk.config.get(S3_ENDPOINT_URL) or "").rstrip("/")


def s3_access_key_id() -> str:
    return tk.config.get(S3_ACCESS_KEY_ID) or ""


def s3_secret_access_key() -> str:
    return tk.config.get(S3_SECRET_ACCESS_KEY) or ""


def s3_ssl_verify() -> bool:
    return tk.asbool(tk.config.get(S3_SSL_VERIFY))


def s3_region_name() -> str:
    return tk.config.get(S3_REGION_NAME) or "us-east-1"


def s3_bucket_name_template() -> str:
    return tk.config.get(S3_BUCKET_NAME)


def s3_part_size() -> int:
    return tk.config.get(S3_PART_SIZE)


def s3_max_concurrency() -> int:
    return tk.config.get(S3_MAX_CONCURRENCY)


def s3_max_attempts() -> int:
    return tk.config.get(S3_MAX_ATTEMPTS)


# Block storage

def storage_path() -> str:
    return tk.config.get(STORAGE_PATH) or ""


def depots_path() -> str:
    return tk.config.get(DEPOTS_PATH)


def users_depot_name() -> str:
    return tk.config.get(USERS_DEPOT_NAME).format(
        hostname=socket.gethostname())


def figshare_api_url() -> str:
    return tk.config.get(FIGSHARE_API_URL).rstrip("/")


# Jobs

def jobs_queue() -> str:
    return tk.config.get(JOBS_QUEUE)


def job_timeout() -> int:
    return tk.config.get(JOB_TIMEOUT)


def job_retry_intervals() -> str:
    return str(tk.config.get(JOB_RETRY_INTERVALS))


def outbox_sweep_interval() -> int:
    return tk.config.get(OUTBOX_SWEEP_INTERVAL)


# Direct uploads and maintenance

def upload_url_expiry() -> int:
    return tk.config.get(UPLOAD_URL_EXPIRY)


def upload_max_part_size() -> int:
    return tk.config.get(UPLOAD_MAX_PART_SIZE)


def multipart_part_size() -> int:
    return tk.config.get(MULTIPART_PART_SIZE)


def multipart_upload_lifetime() -> int:
    return tk.config.get(MULTIPART_UPLOAD_LIFETIME)


def multipart_part_url_expiry() -> int:
    return tk.config.get(MULTIPART_PART_URL_EXPIRY)


def download_url_expiry() -> int:
    return tk.config.get(DOWNLOAD_URL_EXPIRY)


def download_providers() -> list[str]:
    """Names of the download providers, in the order they are asked."""
    return tk.aslist(tk.config.get(DOWNLOAD_PROVIDERS))


def download_accel_redirect() -> str:
    """nginx's internal location of the folder that holds CKAN's resource
    files (ckan.storage_path, or the parent of CKAN 2.12's resource storage),
    or empty."""
    return tk.config.get(DOWNLOAD_ACCEL_REDIRECT) or ""


def archive_max_files() -> int:
    return tk.config.get(ARCHIVE_MAX_FILES)


def archive_max_datasets() -> int:
    """Most datasets a selection for one archive may name."""
    return tk.config.get(ARCHIVE_MAX_DATASETS)


def archive_max_bytes() -> int:
    """0: no limit."""
    return tk.config.get(ARCHIVE_MAX_BYTES)


def archive_providers() -> list[str]:
    """Names of the providers asked first for the bytes of an archive's
    members (the download providers follow)."""
    return tk.aslist(tk.config.get(ARCHIVE_PROVIDERS))


def deleted_grace_days() -> int:
    return tk.config.get(DELETED_GRACE_DAYS)


def figshare_max_attempts() -> int:
    return tk.config.get(FIGSHARE_MAX_ATTEMPTS)


# Download lists

def download_list_max_files() -> int:
    return tk.config.get(DOWNLOAD_LIST_MAX_FILES)


def download_list_max_bytes() -> int:
    """0: no limit."""
    return tk.config.get(DOWNLOAD_LIST_MAX_BYTES)


# Accounting and metrics

def circle_quota_bytes() -> int:
    return tk.config.get(CIRCLE_QUOTA_BYTES)


def metrics_token() -> str:
    return tk.config.get(METRICS_TOKEN) or ""
