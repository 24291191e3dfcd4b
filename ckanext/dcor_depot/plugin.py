"""CKAN entry point: wires hooks to the modules that do the work."""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import config as dcor_config
from . import jobs, pipeline
from .cli import get_commands
from .storage.ckan_uploader import DepotResourceUpload


@tk.blanket.config_declarations
@tk.blanket.cli(get_commands)
class DCORDepotPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurable, inherit=True)
    p.implements(p.IResourceController, inherit=True)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IUploader, inherit=True)

    # IConfigurable
    def configure(self, config):
        dcor_config.check_config(config)

    # IResourceController
    def after_resource_create(self, context, resource):
        # work done inside our own jobs and commands is placed by them
        if context.get("is_background_job"):
            return
        if resource.get("url_type") == "upload":
            jobs.enqueue_resource_jobs(resource["id"])

    # IUploader
    def get_resource_uploader(self, data_dict):
        return DepotResourceUpload(data_dict)

    # IPackageController
    def after_dataset_update(self, context, pkg_dict):
        if context.get("is_background_job") or not dcor_config.s3_enabled():
            return
        before = context.get("original_package")
        if before and before.get("id") == pkg_dict.get("id") and \
                pipeline.dataset_is_public(before) == \
                pipeline.dataset_is_public(pkg_dict):
            return  # visibility unchanged
        jobs.enqueue_visibility_job(pkg_dict["id"])
