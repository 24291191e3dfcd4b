"""Plugins that exist for the test suite, registered by entry point in
setup.cfg (as CKAN's own test plugins are), never listed on a site."""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk


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
