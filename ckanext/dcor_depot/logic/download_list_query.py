"""A resource_search query on the download list: its preview (count and
size of all matches the caller may read, what an add would add, and
whether it fits the limits) and the ids its add adds, exactly those of
the preview when its digest is given. download_list.py holds the
actions."""
from __future__ import annotations

from typing import Any, Callable

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model

from .. import config as dcor_config
from ..download_list import matches, rules


def _where(query: Any) -> sa.ColumnElement:
    if not isinstance(query, str) or not query.strip():
        raise tk.ValidationError({"query": [
            "query must be a string such as format:rtdc or name:cells"]})
    try:
        return matches.criterion(query.strip())
    except matches.QueryRefused as exc:
        raise tk.ValidationError({"query": [
            f"not a resource_search query ({exc}): {query!r}"]}) from None


def _summary(user: model.User, where, readable) -> matches.Summary:
    try:
        return matches.summary(user.id, where, readable)
    except sa.exc.DataError:  # e.g. a term that is no number for "size"
        model.Session.rollback()
        raise tk.ValidationError({"query": [
            "not a resource_search query (the term does not fit the "
            "field)"]}) from None


def _refusal(on_list: dict[str, Any], found: matches.Summary) -> str | None:
    return rules.limit_refusal(
        on_list["count"], on_list["total_bytes"], found.add_count,
        found.add_bytes, dcor_config.download_list_max_files(),
        dcor_config.download_list_max_bytes())


def preview(user: model.User, query: Any,
            readable: Callable[[model.Package], bool],
            on_list: dict[str, Any]) -> dict[str, Any]:
    found = _summary(user, _where(query), readable)
    refusal = _refusal(on_list, found)
    return {"query": query.strip(), "count": found.count,
            "total_bytes": found.total_bytes,
            "already_on_list": found.already_on_list,
            "add_count": found.add_count, "add_bytes": found.add_bytes,
            "fits": refusal is None, "refusal": refusal,
            "digest": found.digest}


def ids_to_add(user: model.User, query: Any, digest: Any,
               readable: Callable[[model.Package], bool],
               on_list: dict[str, Any]) -> list[str]:
    """What an add of the query adds; refused (one line) over a limit,
    when nothing matches, and when `digest` (from the preview) is given
    but the files to add are no longer those previewed."""
    if digest is not None and not isinstance(digest, str):
        raise tk.ValidationError({"digest": [
            "digest must be the preview's digest (text)"]})
    where = _where(query)
    found = _summary(user, where, readable)
    if not found.count:
        raise tk.ValidationError({"query": [
            f"no file this site stores matches {query.strip()!r}"]})
    changed = tk.ValidationError({"query": [
        f"not added: the files matching {query.strip()!r} changed since "
        f"the preview; now {found.add_count} files "
        f"({rules.human_bytes(found.add_bytes)}) would be added"]})
    if digest and digest != found.digest:
        raise changed
    refusal = _refusal(on_list, found)
    if refusal:
        raise tk.ValidationError({"limit": [refusal]})
    ids, fetched_digest = matches.ids_to_add(user.id, where,
                                             found.dataset_ids)
    if fetched_digest != found.digest:  # a change between the two reads
        raise changed
    return ids
