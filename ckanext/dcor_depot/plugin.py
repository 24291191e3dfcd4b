"""CKAN entry point: wires hooks to the modules that do the work."""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan import model

from . import config as dcor_config
from . import db, jobs, pipeline
from .logic import action, auth
from .cli import get_commands
from .downloads import views as download_views
from .storage import s3
from .storage.ckan_uploader import DepotResourceUpload
from .workflows import visibility


@tk.blanket.config_declarations
@tk.blanket.cli(get_commands)
class DCORDepotPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurable, inherit=True)
    p.implements(p.IResourceController, inherit=True)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IUploader, inherit=True)
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)
    p.implements(p.IBlueprint)

    # IConfigurable
    def configure(self, config):
        dcor_config.check_config(config)

    # IResourceController
    # A resource change never changes the dataset's visibility; the flag
    # spares after_dataset_update a job where CKAN gives no original dict.
    def before_resource_create(self, context, resource):
        context["dcor_depot_resource_change"] = True

    def before_resource_update(self, context, current, resource):
        context["dcor_depot_resource_change"] = True

    def before_resource_delete(self, context, resource, resources):
        context["dcor_depot_resource_change"] = True
        row = model.Session.get(model.Resource, resource.get("id") or "")
        if row is not None:
            context["dcor_depot_deleted_from"] = row.package_id
            # committed with the deletion (after_resource_delete comes after
            # the commit); a deletion that fails leaves a harmless record
            db.record_deletion("resource", row.id)

    def after_resource_delete(self, context, resources):
        # the deleted resource's objects lose their public tag and its
        # symlink at CKAN's path goes (the depot copy stays)
        dataset_id = context.pop("dcor_depot_deleted_from", None)
        if dataset_id and not context.get("is_background_job"):
            _enqueue_when_committed(context, jobs.enqueue_visibility_job,
                                    dataset_id)

    def after_resource_create(self, context, resource):
        # work done inside our own jobs and commands is placed by them
        if context.get("is_background_job"):
            return
        if resource.get("url_type") != "upload":
            return
        _enqueue_when_committed(context, jobs.enqueue_resource_jobs,
                                resource["id"])

    # IUploader
    def get_resource_uploader(self, data_dict):
        return DepotResourceUpload(data_dict)

    # IActions
    def get_actions(self):
        actions = {"package_create": action.package_create,
                   "package_update": action.package_update,
                   "dataset_purge": action.dataset_purge,
                   "bulk_update_private": action.bulk_update_private,
                   "bulk_update_public": action.bulk_update_public,
                   "bulk_update_delete": action.bulk_update_delete}
        if not _provided_by_another_plugin(self, p.IActions, "get_actions",
                                           "resource_upload_s3_urls"):
            actions["resource_upload_s3_urls"] = \
                action.resource_upload_s3_urls
        return actions

    # IAuthFunctions
    def get_auth_functions(self):
        if _provided_by_another_plugin(self, p.IAuthFunctions,
                                       "get_auth_functions",
                                       "resource_upload_s3_urls"):
            return {}
        return {"resource_upload_s3_urls": auth.resource_upload_s3_urls}

    # IBlueprint
    def get_blueprint(self):
        return [download_views.download_blueprint]

    # IPackageController
    def after_dataset_create(self, context, pkg_dict):
        if context.get("is_background_job"):
            return
        jobs.enqueue_after_commit(jobs.enqueue_unfinished_resources,
                                  pkg_dict["id"])

    def after_dataset_update(self, context, pkg_dict):
        before = context.get("original_package") or {}
        if pkg_dict.get("state") == "deleted" and \
                before.get("state") != "deleted" and pkg_dict.get("id"):
            db.record_deletion("dataset", pkg_dict["id"])
        if context.get("is_background_job"):
            return
        if not context.get("dcor_depot_resource_change") or \
                _has_direct_upload_without_sha256(pkg_dict):
            # uploads through package_create/update/revise (DCOR-Aid's
            # legacy route) and direct uploads; resource_create queues the
            # jobs of its upload itself
            jobs.enqueue_after_commit(jobs.enqueue_unfinished_resources,
                                      pkg_dict["id"])
        if not dcor_config.s3_enabled():
            return
        if _objects_in_another_circle(pkg_dict):
            jobs.enqueue_after_commit(jobs.enqueue_circle_move_job,
                                      pkg_dict["id"])
        before = context.get("original_package")
        if context.get("dcor_depot_resource_change") and not before:
            return
        if before and before.get("id") == pkg_dict.get("id") and \
                pipeline.dataset_is_public(before) == \
                pipeline.dataset_is_public(pkg_dict):
            return  # visibility unchanged
        jobs.enqueue_after_commit(jobs.enqueue_visibility_job, pkg_dict["id"])

    def after_dataset_delete(self, context, pkg_dict):
        if pkg_dict.get("id"):
            db.record_deletion("dataset", pkg_dict["id"])
        # a deleted dataset is not public: its objects lose the tag
        if pkg_dict.get("id") and dcor_config.s3_enabled():
            jobs.enqueue_after_commit(jobs.enqueue_visibility_job,
                                      pkg_dict["id"])


def _enqueue_when_committed(context, enqueue_fn, entity_id: str) -> None:
    # the action has committed by now, unless its caller defers it
    if context.get("defer_commit"):
        jobs.enqueue_after_commit(enqueue_fn, entity_id)
    else:
        enqueue_fn(entity_id)


def _has_direct_upload_without_sha256(pkg_dict) -> bool:
    return any(resource.get("url_type") == pipeline.S3_UPLOAD
               and not resource.get("sha256")
               for resource in pkg_dict.get("resources") or [])


def _objects_in_another_circle(pkg_dict) -> bool:
    """Some resource's object sits in a bucket other than its circle's:
    the dataset was moved to another circle."""
    if not pkg_dict.get("owner_org"):
        return False
    bucket = s3.bucket_for_circle(pkg_dict["owner_org"])
    return any(location[0] != bucket
               for location in map(visibility.recorded_location,
                                   pkg_dict.get("resources") or [])
               if location)


def _provided_by_another_plugin(ours, interface, getter: str,
                                name: str) -> bool:
    """Another loaded plugin (e.g. an older DCOR extension) has the action
    or auth function; ours steps aside so both can be loaded."""
    return any(name in getattr(plugin, getter)()
               for plugin in p.PluginImplementations(interface)
               if plugin is not ours)
