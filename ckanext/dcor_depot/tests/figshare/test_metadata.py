import pytest

from ckanext.dcor_depot.figshare import metadata

DOI = "10.6084/m9.figshare.7771184.v2"


def article(**changes):
    base = {
        "id": 7771184, "version": 2, "title": "  Reference  data ",
        "description": "<p>Cells &amp; beads</p><ul><li>HL60</li></ul>",
        "authors": [{"full_name": "Paul Müller"}, {"full_name": "Ada"}],
        "tags": ["RT-DC", "cells", "x", "cells"],
        "references": ["https://doi.org/10.1038/nmeth.3281"],
        "license": {"name": "CC BY 4.0", "value": 1},
        "files": [
            {"id": 1, "name": "a.rtdc", "size": 3, "is_link_only": False,
             "download_url": "http://x/1", "supplied_md5": "",
             "computed_md5": "0" * 32},
            {"id": 2, "name": "link", "size": 0, "is_link_only": True,
             "download_url": "http://y"},
        ],
    }
    base.update(changes)
    return base


def test_parse_doi():
    assert metadata.parse_doi(DOI) == (7771184, 2)
    assert metadata.parse_doi("https://doi.org/" + DOI) == (7771184, 2)
    for bad in ("not-a-doi", "10.1000/xyz", DOI + "/../x", ""):
        with pytest.raises(metadata.BadFigshareInput):
            metadata.parse_doi(bad)


def test_doi_file_lines():
    text = "# comment\n\n10.6084/m9.figshare.1.v1  # first\n x \n"
    assert metadata.read_doi_lines(text) == ["10.6084/m9.figshare.1.v1", "x"]


def test_dataset_dict():
    data = metadata.dataset_dict(DOI, article(), "org-id")
    assert data["name"] == "figshare-7771184-v2"
    assert data["id"] == metadata.dataset_id(DOI)
    assert data["title"] == "Reference data"
    assert data["license_id"] == "cc-by"
    assert data["author"] == "Paul Müller, Ada"
    assert data["notes"].startswith("Cells & beads\n\n- HL60")
    assert "nmeth.3281" in data["notes"]
    assert [t["name"] for t in data["tags"]] == ["RT-DC", "cells"]
    assert data["state"] == "draft" and data["private"] is False


def test_unknown_licence_and_wrong_article():
    with pytest.raises(metadata.BadFigshareInput, match="unknown licence"):
        metadata.dataset_dict(DOI, article(license={"name": "All rights"}),
                              "o")
    with pytest.raises(metadata.BadFigshareInput, match="does not belong"):
        metadata.dataset_dict(DOI, article(version=3), "o")


def test_downloadable_files():
    files = metadata.downloadable_files(article())
    assert [f["id"] for f in files] == [1]
    assert files[0]["md5"] == "0" * 32
    with pytest.raises(metadata.BadFigshareInput, match="no md5"):
        metadata.downloadable_files(article(files=[
            {"id": 3, "name": "b", "size": 1, "download_url": "u"}]))


def test_ids_are_deterministic():
    pid = metadata.dataset_id(DOI)
    assert pid == metadata.dataset_id(DOI)
    assert metadata.resource_id(pid, 1) != metadata.resource_id(pid, 2)


@pytest.mark.parametrize("supplied, computed, expected", [
    ("1" * 32, "2" * 32, "2" * 32),  # figshare's own hash of the bytes
    ("1" * 32, "", "1" * 32),
    ("", "2" * 32, "2" * 32),
    (None, "2" * 32, "2" * 32),
])
def test_computed_md5_wins(supplied, computed, expected):
    files = metadata.downloadable_files(article(files=[
        {"id": 1, "name": "a", "size": 1, "download_url": "http://x/1",
         "supplied_md5": supplied, "computed_md5": computed}]))
    assert files[0]["md5"] == expected
