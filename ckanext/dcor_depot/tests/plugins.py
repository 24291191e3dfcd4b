"""Plugins that exist for the test suite, registered by entry point in
setup.cfg (as CKAN's own test plugins are), never listed on a site."""
from __future__ import annotations

import flask

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.dcor_depot.interfaces import IDownloadProvider


@tk.side_effect_free
def _other_upload_urls(context, data_dict):
    return {"answered_by": "the other plugin"}


def _anyone(context, data_dict):
    return {"success": True}


class OtherDirectUploadPlugin(p.SingletonPlugin):
    """An older extension that provides resource_upload_s3_urls itself."""
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)

    def get_actions(self):
        return {"resource_upload_s3_urls": _other_upload_urls}

    def get_auth_functions(self):
        return {"resource_upload_s3_urls": _anyone}


class _TestProtocolProvider:
    """Serves resources whose URL is testproto://..., with bytes made from
    the URL (a stand-in for another extension's storage)."""
    name = "testproto"

    @staticmethod
    def content(resource) -> bytes:
        return f"bytes of {resource['url']}\n".encode() * 100

    def can_serve(self, resource, dataset):
        return (resource.get("url") or "").startswith("testproto://")

    def response(self, resource, dataset, filename):
        return flask.Response(self.content(resource),
                              mimetype="application/octet-stream",
                              headers={"X-Served-By": "testproto"})

    def size(self, resource, dataset):
        return len(self.content(resource))

    def open(self, resource, dataset, offset):
        yield self.content(resource)[offset:]


class TestProtocolPlugin(p.SingletonPlugin):
    """Another extension's download provider, registered by entry point."""
    p.implements(IDownloadProvider)

    def get_download_providers(self):
        return [_TestProtocolProvider()]


@tk.chained_auth_function
@tk.auth_allow_anonymous_access
def _embargoed_package_show(next_auth, context, data_dict):
    """Datasets titled "Embargoed ..." are for nobody but sysadmins."""
    package = context.get("package") or \
        model.Package.get((data_dict or {}).get("id") or "")
    if package is not None and (package.title or "").startswith("Embargoed"):
        return {"success": False, "msg": "embargoed"}
    return next_auth(context, data_dict)


class EmbargoPlugin(p.SingletonPlugin):
    """Another extension that narrows who may read a dataset (chained
    package_show auth)."""
    p.implements(p.IAuthFunctions)

    def get_auth_functions(self):
        return {"package_show": _embargoed_package_show}
