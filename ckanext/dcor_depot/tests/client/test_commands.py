"""Packaging, `dcor-depot manifest` and `dcor-depot datasets`."""
import hashlib
import subprocess
import sys

import pytest

from ckan.tests import factories

from .conftest import DCOR_DEPOT, one_line_error


def run(*args, **kwargs):
    return subprocess.run([DCOR_DEPOT, *map(str, args)], capture_output=True,
                          text=True, timeout=300, **kwargs)


# 1. packaging

def test_client_imports_no_ckan():
    code = ("import ckanext.dcor_depot.client, sys; "
            "assert not any(m == 'ckan' or m.startswith('ckan.') "
            "for m in sys.modules), sorted(m for m in sys.modules "
            "if m.startswith('ckan'))")
    result = subprocess.run([sys.executable, "-c", code],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # the same holds for the console script's module
    result = subprocess.run([sys.executable, "-c", code.replace(
        "dcor_depot.client,", "dcor_depot.client.cli,")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_console_script_and_library():
    result = run("--help")
    assert result.returncode == 0
    for command in ("datasets", "download", "manifest", "upload"):
        assert command in result.stdout
    from ckanext.dcor_depot.client import Client
    client = Client("dcor.example.org", "token")
    assert client.api.site == "https://dcor.example.org"


# 3. manifest

def make_tree(folder):
    (folder / "sub").mkdir(parents=True)
    (folder / "a.rtdc").write_bytes(b"a" * 1000)
    (folder / "sub" / "b.tsv").write_bytes(b"b" * 10)
    (folder / ".hidden").write_bytes(b"skipped")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "c").write_bytes(b"skipped too")


def test_manifest_writes_sha256sum_format(tmp_path):
    make_tree(tmp_path / "data")
    result = run("manifest", tmp_path / "data")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "data" / "MANIFEST.sha256").read_text()
    assert text == (f"{hashlib.sha256(b'a' * 1000).hexdigest()}  a.rtdc\n"
                    f"{hashlib.sha256(b'b' * 10).hexdigest()}  sub/b.tsv\n")
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"],
                           cwd=tmp_path / "data", capture_output=True)
    assert check.returncode == 0
    # writing it again gives the same file (the manifest is not listed)
    assert run("manifest", tmp_path / "data").returncode == 0
    assert (tmp_path / "data" / "MANIFEST.sha256").read_text() == text
    result = run("manifest", "--check", tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "all 2 files match" in result.stdout


def test_manifest_check_lists_every_problem(tmp_path):
    folder = tmp_path / "data"
    make_tree(folder)
    assert run("manifest", folder).returncode == 0
    (folder / "a.rtdc").write_bytes(b"A" * 1000)        # mismatch
    (folder / "sub" / "b.tsv").unlink()                # missing
    (folder / "new.txt").write_bytes(b"new")           # untracked
    (folder / ".another-hidden").write_bytes(b"fine")  # skipped
    result = run("manifest", "--check", folder)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "mismatch: a.rtdc", "missing: sub/b.tsv", "untracked: new.txt"]
    one_line_error(result, "does not match its manifest", "3 problems")


@pytest.mark.parametrize("line, problem", [
    ("nonsense", "line 3 is not"),
    (f"{'0' * 64}  ../escape", "leaves the folder"),
    (f"{'0' * 64}  /etc/passwd", "leaves the folder"),
    (f"{'0' * 63}  a.rtdc", "line 3 is not"),
])
def test_manifest_check_malformed_line(tmp_path, line, problem):
    folder = tmp_path / "data"
    make_tree(folder)
    assert run("manifest", folder).returncode == 0
    with open(folder / "MANIFEST.sha256", "a") as handle:
        handle.write(line + "\n")
    result = run("manifest", "--check", folder)
    one_line_error(result, "MANIFEST.sha256", problem)
    assert result.stdout == ""


def test_manifest_with_unicode_line_breaks_reads_back(tmp_path):
    """Issue 23, item 6: names with U+2028, U+2029 or U+0085 are one line
    each, for `dcor-depot manifest --check` as for sha256sum."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("a\u2028b.txt", "c\u2029d.txt", "e\x85f.txt", "plain"):
        (folder / name).write_bytes(name.encode())
    assert run("manifest", folder).returncode == 0
    result = run("manifest", "--check", folder)
    assert result.returncode == 0, result.stderr
    assert "all 4 files match" in result.stdout
    check = subprocess.run(["sha256sum", "--strict", "-c",
                            "MANIFEST.sha256"], cwd=folder,
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("name, problem", [
    ("tab\there.txt", "'tab\\there.txt' holds a control character"),
    ("back\\slash.txt", "'back\\\\slash.txt' holds a backslash")])
def test_manifest_of_a_name_sha256sum_escapes(tmp_path, name, problem):
    """A name no manifest line of ours holds (sha256sum would write it
    escaped): one line, no manifest."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / name).write_bytes(b"x")
    one_line_error(run("manifest", folder), "cannot list a file of",
                   problem)
    assert not (folder / "MANIFEST.sha256").exists()


def test_manifest_of_a_file_or_nothing(tmp_path):
    (tmp_path / "file").write_text("x")
    assert run("manifest", tmp_path / "file").returncode == 2
    assert run("manifest", tmp_path / "nothing").returncode == 2
    result = run("manifest", "--check", tmp_path)
    one_line_error(result, "MANIFEST.sha256 does not exist")


# 2. datasets



@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins")
def test_datasets_lists_what_the_token_may_read(account):
    mine = factories.Dataset(owner_org=account.circle["id"], private=True,
                             name="mine-private", title="Mine",
                             user=account.user,
                             resources=[{"url": "http://example.org/x",
                                         "name": "link"}])
    assert mine
    stranger = factories.User()
    theirs = factories.Organization(
        users=[{"name": stranger["name"], "capacity": "admin"}])
    factories.Dataset(owner_org=theirs["id"], private=False,
                      name="theirs-public", title="Public one")
    factories.Dataset(owner_org=theirs["id"], private=True,
                      name="theirs-private", title="Hidden")

    result = account.run("datasets")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # links are no files of the site
    assert lines == ["mine-private\t0 files\t0 bytes\tMine",
                     "theirs-public\t0 files\t0 bytes\tPublic one"]

    result = account.run("datasets", "--circle", account.circle["name"])
    assert result.stdout.splitlines() == [
        "mine-private\t0 files\t0 bytes\tMine"]
    result = account.run("datasets", "--circle", theirs["name"])
    assert result.stdout.splitlines() == [
        "theirs-public\t0 files\t0 bytes\tPublic one"]
    one_line_error(account.run("datasets", "--circle", "no-such-circle"),
                   "no such circle: no-such-circle")


# 4. the progress bar: on a terminal only

def test_progress_bar_only_on_a_terminal(tmp_path):
    import fcntl
    import os
    import pty
    import struct
    import termios

    from .fake_site import FakeSite

    data = os.urandom(300_000)
    with FakeSite() as fake:
        fake.logged_in()
        fake.dataset("ds", {"ds/a.bin": data, "ds/b.bin": data[:10]})
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DCOR_")}
        env.update(DCOR_SITE=fake.url, DCOR_API_TOKEN="token")
        piped = subprocess.run([DCOR_DEPOT, "download", "ds",
                                tmp_path / "piped"], capture_output=True,
                               text=True, env=env, timeout=60)
        assert piped.returncode == 0, piped.stderr
        assert piped.stderr == ""
        main, child = pty.openpty()
        # a terminal of 100 columns (a fresh pty has none)
        fcntl.ioctl(child, termios.TIOCSWINSZ,
                    struct.pack("HHHH", 30, 100, 0, 0))
        try:
            on_tty = subprocess.run([DCOR_DEPOT, "download", "ds",
                                     tmp_path / "tty"], stderr=child,
                                    stdout=subprocess.PIPE, env=env,
                                    timeout=60)
            os.close(child)
            shown = b""
            while True:
                try:
                    chunk = os.read(main, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            os.close(main)
    assert on_tty.returncode == 0
    text = shown.decode(errors="replace")
    # bytes, rate and files
    assert "download 2/2 files" in text and "B/s" in text, text
