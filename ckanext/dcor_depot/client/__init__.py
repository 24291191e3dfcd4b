"""`dcor-depot`, the command-line client of DCOR sites, and its library.

It talks to a site only through its public HTTP API and imports nothing
of CKAN or of the server side, so `pip install ckanext-dcor_depot` is all
a scientist's laptop needs.
"""
from .client import Client, DatasetSummary
from .download import DownloadReport
from .errors import ClientError, Interrupted, NotAuthorized, NotFound
from .folder import FolderCheck, check_folder, write_manifest
from .upload import UploadReport

__all__ = ["Client", "ClientError", "DatasetSummary", "DownloadReport",
           "FolderCheck", "Interrupted", "NotAuthorized", "NotFound",
           "UploadReport", "check_folder", "write_manifest"]
