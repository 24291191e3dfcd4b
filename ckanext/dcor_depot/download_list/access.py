"""Who calls a download-list action, and which datasets they may read:
CKAN's own package_show decision, taken for a whole list at once."""
from __future__ import annotations

from typing import Any, Callable

import ckan.plugins.toolkit as tk
from ckan import authz, model
from ckan.lib import plugins as plugins_lib
from ckan.logic.auth import get as core_auth


def caller(context: dict[str, Any]) -> model.User:
    """The caller (the auth functions let nobody else through)."""
    user = context.get("auth_user_obj")
    if not isinstance(user, model.User):
        user = model.User.get(context.get("user") or "")
    if user is None:
        raise tk.NotAuthorized("only logged-in users have a download list")
    return user


def readable_datasets(context: dict[str, Any]
                      ) -> Callable[[model.Package], bool]:
    """A function: may the caller read this dataset (package_show)?

    With CKAN's own package_show auth in effect, the answer comes from
    the permission labels that auth function compares, with the user's
    labels read once: a list of 100 files then costs one query, not a few
    per dataset. Where a plugin replaced or chained that auth function,
    each dataset is asked through check_access (once)."""
    user = caller(context)
    if user.is_deleted():
        return lambda dataset: False
    if user.sysadmin:  # as authz.is_authorized decides for package_show
        return lambda dataset: True
    if authz._AuthFunctions.get("package_show") is core_auth.package_show:
        labels = plugins_lib.get_permission_labels()
        user_labels = set(labels.get_user_dataset_labels(user))
        return lambda dataset: any(
            label in user_labels
            for label in labels.get_dataset_labels(dataset))
    answers: dict[str, bool] = {}

    def readable(dataset: model.Package) -> bool:
        if dataset.id not in answers:
            try:
                tk.check_access("package_show",
                                {"user": user.name, "auth_user_obj": user,
                                 "package": dataset}, {"id": dataset.id})
                answers[dataset.id] = True
            except tk.NotAuthorized:
                answers[dataset.id] = False
        return answers[dataset.id]
    return readable
