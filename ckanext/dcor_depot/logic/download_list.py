"""Actions of the per-user download list (as Synapse's bulk download):
show, add (resources, a dataset's files, or a resource_search query),
remove, clear and rename. Each works on the caller's own list only."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from .. import config as dcor_config
from .. import resource_state
from ..access_requests import store as access_requests
from ..download_list import access, rules, store
from ..downloads import archives
from . import download_list_query as query_add


def _listing(context: dict[str, Any], user: model.User) -> dict[str, Any]:
    readable = access.readable_datasets(context)
    items, total = [], 0
    for rid, resource, dataset in store.entries(user.id):
        if not readable(dataset):
            # no name, dataset or size: the user may no longer read them
            items.append({"resource_id": rid, "resource_name": None,
                          "dataset_id": None, "dataset_name": None,
                          "size": None, "sha256": None, "readable": False})
            continue
        extras = resource.extras or {}
        items.append({"resource_id": rid,
                      "resource_name": resource.name or rid,
                      "dataset_id": dataset.id, "dataset_name": dataset.name,
                      "dataset_title": dataset.title or dataset.name,
                      "size": resource.size,
                      "sha256": extras.get("sha256") or None,
                      "readable": True})
        total += resource.size or 0
    _request_states(user, items)
    return {"name": store.name(user.id), "items": items, "count": len(items),
            "total_bytes": total,
            "max_files": dcor_config.download_list_max_files(),
            "max_bytes": dcor_config.download_list_max_bytes()}


def _request_states(user: model.User, items: list[dict[str, Any]]) -> None:
    """Each unreadable item gets the state of the newest access request
    that names it (None: never asked), and a declined one its reason."""
    unreadable = [item for item in items if not item["readable"]]
    states = access_requests.states_of_items(
        user.id, [item["resource_id"] for item in unreadable])
    for item in unreadable:
        state, reason = states.get(item["resource_id"], (None, None))
        item["access_request"] = state
        item["access_request_reason"] = reason


@tk.side_effect_free
def download_list_show(context, data_dict) -> dict[str, Any]:
    """The caller's download list. Answers GET and POST; changes nothing.

    Who may call it: any logged-in user, on their own list only; a
    ``user`` other than the caller is refused.

    :param user: optional; if given, the caller's own name or id
    :returns: ``{"name", "items": [{"resource_id", "resource_name",
        "dataset_id", "dataset_title", "dataset_name", "size", "sha256",
        "readable", "access_request", "access_request_reason"}], "count",
        "total_bytes", "max_files", "max_bytes"}``. Items of datasets the
        caller may no longer read are ``readable: false`` with no
        metadata, are left out of ``total_bytes`` and carry
        ``access_request`` (``open``, ``granted``, ``declined`` or None)
        and ``access_request_reason``; deleted resources are not listed.
    :raises NotAuthorized: the caller is anonymous or names another user
    """
    tk.check_access("download_list_show", context, data_dict)
    return _listing(context, access.caller(context))


def id_list(data_dict: dict[str, Any], key: str) -> list[str]:
    value = data_dict.get(key)
    if isinstance(value, str):  # one id, as a form or a GET sends it
        value = [value]
    if not isinstance(value, list) or not value or not all(
            isinstance(rid, str) and rid.strip() for rid in value):
        raise tk.ValidationError({key: [
            f"{key} must be a non-empty list of resource ids"]})
    return [rid.strip() for rid in value]


def _stored(resource: model.Resource) -> bool:
    return resource.url_type in resource_state.STORED_URL_TYPES


def _named_resources(readable, ids: list[str]) -> list[model.Resource]:
    """The named resources; the first unknown, unreadable or linked one
    refuses the batch (an unreadable one without its name or size)."""
    found = []
    for rid in ids:
        resource = model.Resource.get(rid)
        dataset = resource.package if resource is not None else None
        if resource is None or resource.state != "active" or \
                dataset is None or dataset.state != "active":
            raise tk.ObjectNotFound(f"no such resource: {rid}")
        if not readable(dataset):
            raise tk.NotAuthorized(f"not allowed to read resource {rid}")
        if not _stored(resource):
            raise tk.ValidationError({"resource_ids": [
                f"resource {rid} is a link, not a file this site stores"]})
        found.append(resource)
    return found


def _dataset_resources(readable, dataset_id: Any) -> list[model.Resource]:
    """The stored files of a dataset (not recursive: a dataset has no
    sub-folders)."""
    if not isinstance(dataset_id, str) or not dataset_id.strip():
        raise tk.ValidationError({"dataset_id": [
            "dataset_id must be a dataset id or name"]})
    dataset = model.Package.get(dataset_id.strip())
    if dataset is None or dataset.state != "active":
        raise tk.ObjectNotFound(f"no such dataset: {dataset_id}")
    if not readable(dataset):
        raise tk.NotAuthorized(f"not allowed to read dataset {dataset_id}")
    # in the dataset's order, said explicitly: the list keeps the order in
    # which a batch was added
    resources = sorted((resource for resource in dataset.resources
                        if resource.state == "active" and _stored(resource)),
                       key=lambda resource: resource.position or 0)
    if not resources:
        raise tk.ValidationError({"dataset_id": [
            f"dataset {dataset.name} holds no file this site stores"]})
    return resources


def download_list_add(context, data_dict) -> dict[str, Any]:
    """Add files to the caller's download list, all or none. Give exactly
    one of ``resource_ids``, ``dataset_id`` or ``query``.

    Files already on the list are ignored. A batch that would take the
    list over ``download_list_max_files`` or ``download_list_max_bytes``
    is refused whole, and so is a batch with one file that is unknown,
    unreadable or a link. Concurrent adds of one user are serialised.

    Who may call it: any logged-in user, on their own list only; a
    ``user`` other than the caller is refused.

    :param resource_ids: a list of resource ids (or one id as a string), or
    :param dataset_id: every stored file of this dataset, or
    :param query: every stored file of a readable dataset that a
        ``resource_search`` query finds, e.g. ``format:rtdc`` or
        ``name:cells`` (as CKAN's ``resource_search``, public datasets
        only; it reads the database, so no Solr is needed)
    :param digest: optional, with ``query``: ``download_list_preview``'s
        ``digest``; if the files to add are no longer those previewed,
        nothing is added and the answer says so
    :param user: optional; if given, the caller's own name or id
    :returns: the list, as ``download_list_show``, plus ``added`` (files)
    :raises ValidationError: not exactly one of the three is given, one is
        malformed, a resource is a link, nothing stored matches, the
        files of a query changed since its preview (``digest``), or the
        batch would go over a limit (one line that names the counts)
    :raises ObjectNotFound: a resource or dataset does not exist or is
        deleted
    :raises NotAuthorized: the caller is anonymous, names another user,
        or may not read a named resource or dataset (its name and size
        are not told)
    """
    tk.check_access("download_list_add", context, data_dict)
    user = access.caller(context)
    given = [key for key in ("resource_ids", "dataset_id", "query")
             if data_dict.get(key) not in (None, "", [])]
    if len(given) != 1:
        raise tk.ValidationError({"resource_ids": [
            "give exactly one of resource_ids, dataset_id or query"]})
    readable = access.readable_datasets(context)
    max_files = dcor_config.download_list_max_files()
    max_bytes = dcor_config.download_list_max_bytes()
    store.lock(user.id)
    try:
        return _add_locked(context, data_dict, user, given, readable,
                           max_files, max_bytes)
    except Exception:
        model.Session.rollback()  # the lock, and nothing else, goes
        raise


def _add_locked(context, data_dict, user, given, readable, max_files,
                max_bytes) -> dict[str, Any]:
    on_list = _listing(context, user)
    if given == ["query"]:
        fresh = query_add.ids_to_add(user, data_dict["query"],
                                     data_dict.get("digest"), readable,
                                     on_list)
    else:
        if given == ["resource_ids"]:
            resources = _named_resources(
                readable, id_list(data_dict, "resource_ids"))
        else:
            resources = _dataset_resources(readable,
                                           data_dict["dataset_id"])
        fresh = rules.new_ids({item["resource_id"]
                               for item in on_list["items"]},
                              [resource.id for resource in resources])
        sizes = {resource.id: resource.size or 0 for resource in resources}
        refusal = rules.limit_refusal(
            on_list["count"], on_list["total_bytes"], len(fresh),
            sum(sizes[rid] for rid in fresh), max_files, max_bytes)
        if refusal:
            raise tk.ValidationError({"limit": [refusal]})
    store.drop_gone(user.id)
    store.add(user.id, fresh)
    model.repo.commit()
    return {**_listing(context, user), "added": len(fresh)}


@tk.side_effect_free
def download_list_preview(context, data_dict) -> dict[str, Any]:
    """What an add of a ``resource_search`` query would do, over all its
    matches that the caller may read (not a page); nothing is changed.

    Who may call it: any logged-in user, for their own list.

    :param query: e.g. ``format:rtdc`` or ``name:cells``
    :param user: optional; if given, the caller's own name or id
    :returns: ``{"query", "count", "total_bytes", "already_on_list",
        "add_count", "add_bytes", "fits", "refusal", "digest"}``:
        ``refusal`` is the line download_list_add would answer where
        ``fits`` is false; ``digest`` makes an add add exactly these files
    :raises ValidationError: the query is missing, not a string, or has a
        term that does not fit its field (one line)
    :raises NotAuthorized: the caller is anonymous or names another user
    """
    tk.check_access("download_list_preview", context, data_dict)
    user = access.caller(context)
    return query_add.preview(user, data_dict.get("query"),
                             access.readable_datasets(context),
                             _listing(context, user))


def download_list_remove(context, data_dict) -> dict[str, Any]:
    """Remove files from the caller's list, all or none.

    Who may call it: any logged-in user, on their own list only; a
    ``user`` other than the caller is refused.

    :param resource_ids: a list of ids on the list (or one id as a
        string)
    :param user: optional; if given, the caller's own name or id
    :returns: the list, as ``download_list_show``
    :raises ValidationError: ``resource_ids`` is missing or malformed, or
        an id is not on the list (nothing is removed)
    :raises NotAuthorized: the caller is anonymous or names another user
    """
    tk.check_access("download_list_remove", context, data_dict)
    user = access.caller(context)
    ids = id_list(data_dict, "resource_ids")
    on_list = set(store.resource_ids(user.id))
    missing = [rid for rid in ids if rid not in on_list]
    if missing:
        raise tk.ValidationError({"resource_ids": [
            f"not on your download list: {', '.join(missing)}"]})
    store.remove(user.id, ids)
    model.repo.commit()
    return _listing(context, user)


def download_list_clear(context, data_dict) -> dict[str, Any]:
    """Remove every file from the caller's list (its name stays).

    Who may call it: any logged-in user, on their own list only; a
    ``user`` other than the caller is refused.

    :param user: optional; if given, the caller's own name or id
    :returns: the list, as ``download_list_show`` (now empty)
    :raises NotAuthorized: the caller is anonymous or names another user
    """
    tk.check_access("download_list_clear", context, data_dict)
    user = access.caller(context)
    store.clear(user.id)
    model.repo.commit()
    return _listing(context, user)


def download_list_rename(context, data_dict) -> dict[str, Any]:
    """Name the archive of the caller's list.

    Who may call it: any logged-in user, on their own list only; a
    ``user`` other than the caller is refused.

    :param name: one safe file name of at most 100 characters (the rule of
        /download/archive's ``name``); a ``.zip``/``.tar`` ending is dropped
    :param user: optional; if given, the caller's own name or id
    :returns: the list, as ``download_list_show``, with the new ``name``
    :raises ValidationError: ``name`` is missing, empty or not one safe
        file name (the name stays as it was)
    :raises NotAuthorized: the caller is anonymous or names another user
    """
    tk.check_access("download_list_rename", context, data_dict)
    user = access.caller(context)
    new_name = data_dict.get("name")
    if not isinstance(new_name, str) or not new_name.strip():
        raise tk.ValidationError({"name": ["name must not be empty"]})
    new_name = new_name.strip()
    for comptype in archives.COMPTYPES:
        if new_name.endswith(f".{comptype}"):
            new_name = new_name[:-len(comptype) - 1]
    try:
        archives.archive_name(new_name, rules.DEFAULT_NAME, "zip")
    except archives.ArchiveRefused as exc:
        raise tk.ValidationError({"name": [str(exc)]}) from None
    store.rename(user.id, new_name)
    model.repo.commit()
    return _listing(context, user)


def actions() -> dict:
    return {"download_list_show": download_list_show,
            "download_list_add": download_list_add,
            "download_list_preview": download_list_preview,
            "download_list_remove": download_list_remove,
            "download_list_clear": download_list_clear,
            "download_list_rename": download_list_rename}
