"""Fixity audit of resources: the local copy, the object, its tags.

The rules are the ones every other part follows: the object lives where
`s3_url` says (else in the circle's bucket), carries the resource's sha256
as a tag and is public exactly when the visibility rule says so.
"""
from __future__ import annotations

import concurrent.futures
import itertools
import os
from typing import Any, Iterable, Iterator

from .. import config as dcor_config
from .. import naming, resource_state
from ..storage import depot, s3
from . import records, visibility


def object_listing(dataset: dict[str, Any]
                   ) -> Iterator[tuple[str, str, str, str, bool, bool]]:
    """(resource id, artifact, bucket, key, exists, public) of every
    artifact of every resource of a dataset, at its current location."""
    client = s3.get_client()
    for resource in dataset.get("resources", []):
        for artifact in naming.ARTIFACTS:
            (bucket, key), _ = visibility.locations(
                resource, dataset["owner_org"], artifact)
            exists = s3.object_head(client, bucket, key) is not None
            public = exists and s3.is_public(client, bucket, key)
            yield resource["id"], artifact, bucket, key, exists, public


def _local_problems(resource: dict[str, Any], checksum: bool) -> list[str]:
    path = records.ckan_path(resource["id"])
    facts = records.local_facts(resource["id"])
    sha256 = resource.get("sha256")
    if not os.path.isfile(path):
        if resource_state.deleted_locally(resource, facts):
            return []
        return [f"no local copy at {path}"]
    if checksum:
        info = depot.file_info(path)
        if info.sha256 != sha256:
            return [f"local copy has sha256 {info.sha256}, the resource "
                    f"says {sha256}"]
    elif resource.get("size") is not None and \
            os.path.getsize(path) != resource.get("size"):
        return [f"local copy has {os.path.getsize(path)} bytes, the "
                f"resource says {resource.get('size')}"]
    return []


def _object_problems(resource: dict[str, Any], dataset: dict[str, Any],
                     checksum: bool) -> list[str]:
    client = s3.get_client()
    current, _ = visibility.locations(resource, dataset["owner_org"],
                                      "resource")
    bucket, key = current
    tags = s3.existing_object_tags(client, bucket, key)
    if tags is None:
        return [f"no object s3://{bucket}/{key}"]
    problems = []
    sha256 = resource.get("sha256")
    if tags.get(s3.SHA256_TAG) != sha256:
        problems.append(f"object is tagged sha256 {tags.get(s3.SHA256_TAG)}"
                        f", the resource says {sha256}")
    public = tags.get(s3.PUBLIC_TAG["Key"]) == s3.PUBLIC_TAG["Value"]
    wanted = resource_state.object_should_be_public(
        dataset, {**resource, "state": resource.get("state", "active")},
        current, current)
    if public != wanted:
        problems.append(f"object is {'public' if public else 'private'} but "
                        f"should be {'public' if wanted else 'private'}")
    if checksum and s3.object_sha256(client, bucket, key) != sha256:
        problems.append("object bytes do not match sha256")
    return problems


def resource_problems(resource: dict[str, Any], dataset: dict[str, Any],
                      checksum: bool) -> list[str]:
    """What is wrong with one resource's copies (empty list: all fine).
    Raises ValueError for an id that names no file."""
    if resource.get("url_type") not in resource_state.STORED_URL_TYPES:
        return []
    problems = _local_problems(resource, checksum)
    if dcor_config.s3_enabled():
        problems += _object_problems(resource, dataset, checksum)
    return problems


def problems_of_pairs(pairs: Iterable[tuple[dict[str, Any], dict[str, Any]]],
                      checksum: bool, page_size: int, threads: int
                      ) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """(resource, its problems) for each (dataset, resource), in order:
    a page of resources at a time is checked by `threads` threads (each
    check waits on S3 and the file system, not on the CPU), so memory
    holds one page. A check that fails is reported as a problem."""
    def check(pair):
        dataset, resource = pair
        try:
            return resource, resource_problems(resource, dataset, checksum)
        except Exception as exc:  # report and go on
            return resource, [f"cannot check: {exc}"]

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        iterator = iter(pairs)
        while page := list(itertools.islice(iterator, page_size)):
            yield from pool.map(check, page)
