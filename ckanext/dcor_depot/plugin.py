"""CKAN entry point: declares what the extension provides and hands each
hook over to the function that handles it."""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import ckan_storage
from . import config as dcor_config
from . import events
from .access_requests import helpers as access_request_helpers
from .accounting import helpers as accounting_helpers
from .accounting import unavailable as quota_unavailable
from .audit import helpers as audit_helpers
from .access_requests import views as access_request_views
from .cli import get_commands
from .doctor import views as doctor_views
from .download_list import helpers as download_list_helpers
from .download_list import views as download_list_views
from .downloads import providers, views as download_views
from .logic import access_requests as access_request_action
from .logic import access_requests_auth
from .logic import action, auth
from .logic import audit as audit_action
from .logic import audit_auth
from .logic import download_list as download_list_action
from .logic import download_list_auth
from .logic import multipart_upload, multipart_upload_auth
from .logic import storage_usage, storage_usage_auth
from .metrics import views as metrics_views
from .storage.ckan_uploader import resource_uploader
from .uploader import helpers as uploader_helpers


def warm_up_registries() -> None:
    from ckan import authz
    tk.get_action("package_show")
    authz.auth_functions_list()


@tk.blanket.config_declarations
@tk.blanket.cli(get_commands)
@tk.blanket.actions(lambda: {**action.actions(),
                             **download_list_action.actions(),
                             **access_request_action.actions(),
                             **storage_usage.actions(),
                             **multipart_upload.actions(),
                             **audit_action.actions()})
@tk.blanket.auth_functions(lambda: {**auth.auth_functions(),
                                    **download_list_auth.auth_functions(),
                                    **access_requests_auth.auth_functions(),
                                    **storage_usage_auth.auth_functions(),
                                    **multipart_upload_auth.auth_functions(),
                                    **audit_auth.auth_functions()})
@tk.blanket.blueprints(lambda: download_views.blueprints() +
                       download_list_views.blueprints() +
                       access_request_views.blueprints() +
                       doctor_views.blueprints() +
                       metrics_views.blueprints())
@tk.blanket.helpers(lambda: {**download_list_helpers.helpers(),
                             **access_request_helpers.helpers(),
                             **audit_helpers.helpers(),
                             **accounting_helpers.helpers(),
                             **uploader_helpers.helpers()})
class DCORDepotPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurable, inherit=True)
    p.implements(p.IConfigurer, inherit=True)
    p.implements(p.IResourceController, inherit=True)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IUploader, inherit=True)
    p.implements(p.IMiddleware, inherit=True)

    # IConfigurable
    def configure(self, config):
        dcor_config.check_config(config)
        ckan_storage.check_config(config)
        providers.check_configured()

    # IConfigurer
    def update_config(self, config):
        tk.add_template_directory(config, "templates")
        # the browser uploader's bundle (assets/webassets.yml)
        tk.add_resource("assets", "dcor_depot")

    # IMiddleware
    def make_middleware(self, app, config):
        # CKAN builds its tables of actions and auth functions on first
        # use; two first requests on uWSGI threads raced there
        # ("Authorization function not found", a 500). Built here, once
        # per process, before any request.
        warm_up_registries()
        if hasattr(app, "register_error_handler"):  # the Flask app itself
            quota_unavailable.register(app)
        return app

    # IUploader
    def get_resource_uploader(self, data_dict):
        return resource_uploader(data_dict)

    # IResourceController
    def before_resource_create(self, context, resource):
        events.resource_creating(context, resource)

    def before_resource_update(self, context, current, resource):
        events.resource_changing(context)

    def before_resource_delete(self, context, resource, resources):
        events.resource_deleting(context, resource)

    def after_resource_delete(self, context, resources):
        events.resource_deleted(context)

    def after_resource_create(self, context, resource):
        events.resource_created(context, resource)

    # IPackageController
    def after_dataset_create(self, context, pkg_dict):
        events.dataset_created(context, pkg_dict)

    def after_dataset_update(self, context, pkg_dict):
        events.dataset_updated(context, pkg_dict)

    def after_dataset_delete(self, context, pkg_dict):
        events.dataset_deleted(context, pkg_dict)
