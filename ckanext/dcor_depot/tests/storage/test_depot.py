"""The depot's file operations on real file systems."""
import os

import pytest

from ckanext.dcor_depot.storage import depot


@pytest.fixture
def paths(tmp_path):
    ckan_file = tmp_path / "storage" / "resources" / "abc" / "def" / "x"
    ckan_file.parent.mkdir(parents=True)
    ckan_file.write_bytes(b"cells" * 1000)
    target = tmp_path / "depots" / "users" / "u-o" / "ab" / "cd" / "x.rtdc"
    return str(ckan_file), str(target)


def test_same_fs_move_links(paths):
    ckan_file, target = paths
    assert depot.move_into_depot(ckan_file, target) == "linked"
    assert os.readlink(ckan_file) == target
    assert open(target, "rb").read() == b"cells" * 1000
    assert depot.move_into_depot(ckan_file, target) == "done"


def test_recovers_after_crash_before_symlink(paths):
    ckan_file, target = paths
    os.makedirs(os.path.dirname(target))
    os.link(ckan_file, target)  # the crash left the link only
    assert depot.move_into_depot(ckan_file, target) == "symlinked"
    assert os.readlink(ckan_file) == target


def test_recovers_when_ckan_file_gone(paths):
    ckan_file, target = paths
    os.makedirs(os.path.dirname(target))
    os.rename(ckan_file, target)
    assert depot.move_into_depot(ckan_file, target) == "symlinked"
    assert open(ckan_file, "rb").read() == b"cells" * 1000


def test_refuses_other_bytes_in_depot(paths):
    ckan_file, target = paths
    os.makedirs(os.path.dirname(target))
    with open(target, "wb") as handle:
        handle.write(b"other" * 1000)
    with pytest.raises(depot.DepotError, match="other bytes"):
        depot.move_into_depot(ckan_file, target)
    assert not os.path.islink(ckan_file)
    assert open(ckan_file, "rb").read() == b"cells" * 1000


def test_missing_everywhere_is_an_error(paths):
    ckan_file, target = paths
    os.unlink(ckan_file)
    with pytest.raises(depot.DepotError, match="no file"):
        depot.move_into_depot(ckan_file, target)


def test_copy_verified_never_overwrites(paths):
    ckan_file, target = paths
    info = depot.copy_verified(ckan_file, target)
    assert info.size == 5000
    with pytest.raises(depot.DepotError, match="overwrite"):
        depot.copy_verified(ckan_file, target)
    assert [n for n in os.listdir(os.path.dirname(target))] == ["x.rtdc"]


def test_stale_temps_are_removed(paths):
    ckan_file, target = paths
    os.makedirs(os.path.dirname(target))
    stale = os.path.join(os.path.dirname(target), ".x.rtdc.part-0123")
    open(stale, "wb").write(b"half")
    assert depot.remove_stale_temps(target) == 1
    assert not os.path.exists(stale)


def test_replace_verified_renames_only_verified_bytes(tmp_path):
    import hashlib

    target = tmp_path / "x.rtdc"
    target.write_bytes(b"rotten")
    os.chmod(target, 0o640)
    before = os.stat(target).st_ino
    good = b"cells" * 1000
    wrong = tmp_path / ".x.rtdc.part-000000000001"
    wrong.write_bytes(b"cells" * 999)
    with pytest.raises(depot.DepotError, match="does not verify"):
        depot.replace_verified(str(wrong), hashlib.sha256(good).hexdigest(),
                               str(target))
    assert os.stat(target).st_ino == before
    assert target.read_bytes() == b"rotten"
    assert not wrong.exists()

    temp = tmp_path / ".x.rtdc.part-000000000002"
    temp.write_bytes(good)
    temp_inode = os.stat(temp).st_ino
    info = depot.replace_verified(str(temp), hashlib.sha256(good).hexdigest(),
                                  str(target))
    assert info.size == len(good)
    assert os.stat(target).st_ino == temp_inode != before
    assert target.read_bytes() == good
    assert os.stat(target).st_mode & 0o777 == 0o640
    assert not temp.exists()
