"""CKAN as a WSGI application for uWSGI (deploy/ckan-uwsgi.ini).

/etc/ckan/default/wsgi.py. The CKAN ini comes from the environment
(CKAN_INI, set by the uWSGI ini), else ckan.ini next to this file.
"""
import logging.config
import os

from ckan.cli import CKANConfigLoader
from ckan.config.middleware import make_app

INI = os.environ.get("CKAN_INI") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "ckan.ini")
if not os.path.isfile(INI):
    raise RuntimeError(f"CKAN ini {INI} not found (set CKAN_INI)")

logging.config.fileConfig(INI, disable_existing_loggers=False)
application = make_app(CKANConfigLoader(INI).get_config())
