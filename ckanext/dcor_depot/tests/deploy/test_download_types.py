"""Through the reference deployment: a depot download handed to nginx keeps
the resource's Content-Type, and a text type is neither gzipped nor loses
Range (issue 23 item 12)."""
import os

import pytest
import requests

import ckan.plugins.toolkit as tk

from ..helpers import make_circle_and_user
from .test_topology import upload_through

pytestmark = pytest.mark.usefixtures("clean_db", "clean_queues",
                                     "with_plugins")


def test_nginx_keeps_the_resources_content_type(deployment):
    site = deployment(processes=1, threads=2, workers=0, settings={
        "ckanext.dcor_depot.download_providers": "depot s3"})
    user, circle, dataset, token = make_circle_and_user(private=True)
    page = b"<html><body>" + os.urandom(200_000).hex().encode() + \
        b"</body></html>"
    resource = upload_through(site, token, dataset["id"], page,
                              name="report.html")
    assert resource["mimetype"] == "text/html"
    path = f"/dataset/{dataset['id']}/resource/{resource['id']}/download"
    # gzip is on in Debian's nginx.conf and requests asks for it
    whole = requests.get(site.url + path, timeout=60, headers={
        "Authorization": token, "Accept-Encoding": "gzip"})
    assert whole.status_code == 200 and whole.content == page
    assert "X-Accel-Redirect" not in whole.headers
    assert whole.headers["Content-Type"] == (
        "text/html; charset=utf-8"
        if tk.check_ckan_version(min_version="2.12") else "text/html")
    assert "Content-Encoding" not in whole.headers
    part = requests.get(site.url + path, timeout=60, headers={
        "Authorization": token, "Accept-Encoding": "gzip",
        "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == page[100:200]
