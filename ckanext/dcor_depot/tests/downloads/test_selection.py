"""The pure reading of an archive request's selection (issue 23 items 3
and 9): repeats, limits and download URLs, without CKAN."""
import pytest

from ckanext.dcor_depot.downloads import selection
from ckanext.dcor_depot.downloads.selection import (DownloadURL,
                                                    SelectionRefused)

SITE = "https://dcor.example.org"
RID = "0a1b2c3d-0000-4000-8000-000000000001"


@pytest.mark.parametrize("url, site, expected", [
    (f"{SITE}/dataset/cells/resource/{RID}/download", SITE, "cells"),
    (f"{SITE}/dataset/cells/resource/{RID}/download/a%20b.rtdc", SITE,
     "cells"),
    (f"HTTPS://DCOR.example.org/dataset/cells/resource/{RID}/download/",
     SITE + "/", "cells"),
    (f"/dataset/cells/resource/{RID}/download", SITE, "cells"),
    (f"/de/dataset/cells/resource/{RID}/download", SITE, "cells"),
    (f"/pt_BR/dataset/cells/resource/{RID}/download/x", SITE, "cells"),
    (f"{SITE}/data/dataset/c%C3%A9/resource/{RID}/download",
     SITE + "/data", "cé"),
    (f"/data/dataset/cells/resource/{RID}/download", SITE + "/data",
     "cells"),
])
def test_download_urls_of_this_site(url, site, expected):
    assert selection.parse_download_url(url, site) == \
        DownloadURL(dataset=expected, resource=RID)


@pytest.mark.parametrize("url, says", [
    (f"https://elsewhere.org/dataset/c/resource/{RID}/download",
     "not a URL of this site"),
    (f"http://dcor.example.org/dataset/c/resource/{RID}/download",
     "not a URL of this site"),
    (f"{SITE}:8443/dataset/c/resource/{RID}/download",
     "not a URL of this site"),
    (f"{SITE}/other/dataset/c/resource/{RID}/download",
     "not a resource download URL"),
    (f"{SITE}/dataset/c", "not a resource download URL"),
    (f"{SITE}/dataset/c/resource/{RID}", "not a resource download URL"),
    (f"{SITE}/dataset/c/resource/{RID}/download?x=1",
     "not a resource download URL"),
    (f"{SITE}/dataset/c/resource/{RID}/download/a/b",
     "not a resource download URL"),
    (f"dataset/c/resource/{RID}/download", "not an absolute or site"),
    ("", "not an absolute or site"),
])
def test_other_urls_are_refused_in_one_line(url, says):
    with pytest.raises(SelectionRefused) as refused:
        selection.parse_download_url(url, SITE)
    assert refused.value.status == 400
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_long_urls_are_shortened_in_the_message():
    with pytest.raises(SelectionRefused) as refused:
        selection.parse_download_url("https://x.org/" + "a" * 10_000, SITE)
    assert len(str(refused.value)) < 250


def test_repeats_count_once_and_limits_refuse_whole():
    read = selection.read(["d", "d", " "], ["r1", "r1", "r2"],
                          [f"/dataset/d/resource/{RID}/download",
                           f"{SITE}/dataset/d/resource/{RID}/download/x"],
                          SITE, max_files=3, max_datasets=1)
    assert read.datasets == ("d",) and read.resources == ("r1", "r2")
    assert read.urls == (DownloadURL("d", RID),)
    assert read.resource_count == 3
    for kwargs, says in (
            ({"datasets": ["a", "b"]}, "2 datasets"),
            ({"resources": ["a", "b", "c", "d"]}, "4 resources"),
            ({"urls": [f"/dataset/d/resource/r{n}/download"
                       for n in range(4)]}, "4 download URLs"),
            ({"resources": ["a", "b"], "urls": [
                f"/dataset/d/resource/r{n}/download" for n in range(2)]},
             "4 resources")):
        arguments = {"datasets": [], "resources": [], "urls": [], **kwargs}
        with pytest.raises(SelectionRefused) as refused:
            selection.read(site_url=SITE, max_files=3, max_datasets=1,
                           **arguments)
        assert refused.value.status == 413 and says in str(refused.value)


def test_too_many_urls_are_refused_before_they_are_parsed():
    with pytest.raises(SelectionRefused) as refused:
        selection.read([], [], ["not a url"] * 1 + [f"u{n}" for n in
                                                     range(5000)],
                       SITE, max_files=100, max_datasets=20)
    assert refused.value.status == 413


def test_request_bound_grows_with_the_limits():
    assert selection.request_bound(100, 20) > 100 * 4000
    assert selection.request_bound(1, 1) < selection.request_bound(2, 1)
