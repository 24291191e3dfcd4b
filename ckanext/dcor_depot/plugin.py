"""CKAN entry point: wires hooks to the modules that do the work."""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import config as dcor_config
from . import jobs, pipeline
from .logic import action, auth
from .cli import get_commands
from .storage.ckan_uploader import DepotResourceUpload


@tk.blanket.config_declarations
@tk.blanket.cli(get_commands)
class DCORDepotPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurable, inherit=True)
    p.implements(p.IResourceController, inherit=True)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IUploader, inherit=True)
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)

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

    def after_resource_create(self, context, resource):
        # work done inside our own jobs and commands is placed by them
        if context.get("is_background_job"):
            return
        if resource.get("url_type") != "upload":
            return
        # resource_create has committed by now, unless its caller defers it
        if context.get("defer_commit"):
            jobs.enqueue_after_commit(jobs.enqueue_resource_jobs,
                                      resource["id"])
        else:
            jobs.enqueue_resource_jobs(resource["id"])

    # IUploader
    def get_resource_uploader(self, data_dict):
        return DepotResourceUpload(data_dict)

    # IActions
    def get_actions(self):
        actions = {"package_create": action.package_create,
                   "package_update": action.package_update}
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

    # IPackageController
    def after_dataset_create(self, context, pkg_dict):
        self._enqueue_backups(context, pkg_dict)

    def after_dataset_update(self, context, pkg_dict):
        if context.get("is_background_job") or not dcor_config.s3_enabled():
            return
        self._enqueue_backups(context, pkg_dict)
        before = context.get("original_package")
        if context.get("dcor_depot_resource_change") and not before:
            return
        if before and before.get("id") == pkg_dict.get("id") and \
                pipeline.dataset_is_public(before) == \
                pipeline.dataset_is_public(pkg_dict):
            return  # visibility unchanged
        jobs.enqueue_after_commit(jobs.enqueue_visibility_job, pkg_dict["id"])

    def after_dataset_delete(self, context, pkg_dict):
        # a deleted dataset is not public: its objects lose the tag
        if dcor_config.s3_enabled() and pkg_dict.get("id"):
            jobs.enqueue_after_commit(jobs.enqueue_visibility_job,
                                      pkg_dict["id"])

    def _enqueue_backups(self, context, pkg_dict):
        if context.get("is_background_job") or not dcor_config.s3_enabled():
            return
        for resource in pkg_dict.get("resources") or []:
            if resource.get("url_type") == pipeline.S3_UPLOAD and \
                    not resource.get("sha256") and resource.get("id"):
                jobs.enqueue_after_commit(jobs.enqueue_backup_job,
                                          resource["id"])


def _provided_by_another_plugin(ours, interface, getter: str,
                                name: str) -> bool:
    """Another loaded plugin (e.g. an older DCOR extension) has the action
    or auth function; ours steps aside so both can be loaded."""
    return any(name in getattr(plugin, getter)()
               for plugin in p.PluginImplementations(interface)
               if plugin is not ours)
