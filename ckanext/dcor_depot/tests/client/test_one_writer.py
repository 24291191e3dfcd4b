"""Issue 23, item 1: one writer per downloaded file. Two `dcor-depot
download` runs into one TARGET, a .part replaced by another program and
names that are one file on macOS and Windows never end in a file with
wrong bytes under its final name, let alone one reported as verified.

The fake site holds a response half-way until the test lets it go on, so
the runs interleave the same way on a busy machine as on a quiet one;
the test waits for states (bytes on the disk, a process ended), never
for a time."""
import hashlib
import os
import subprocess
import threading
import time

import pytest

from .conftest import DCOR_DEPOT, one_line_error
from .fake_site import FakeSite
from .test_bad_input import run
from .test_resume import uploaded

MB = 1024**2
SIZE = 12 * MB   # three of the client's 4 MiB reads
HELD_AT = 8 * MB


def start(site, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCOR_")}
    env.update(DCOR_SITE=site, DCOR_API_TOKEN="token")
    return subprocess.Popen([DCOR_DEPOT, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(condition, what, *processes, limit=300):
    """Until `condition()` holds; fails if a process that should still
    run has ended, or after `limit` seconds (a hang, not a slow run)."""
    deadline = time.monotonic() + limit
    while not condition():
        for process in processes:
            assert process.poll() is None, \
                f"ended while waiting for {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        time.sleep(0.02)


def size_of(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


class HeldFile:
    """Serves one file: the first request gets HELD_AT bytes, then waits
    for `release_first`. A later request (a second run's, which asks for
    the rest with Range) is answered as a server that ignores Range: 200
    and the file from its start, 4 MiB of it, then the connection is cut
    once `release_second` is set; any request after that gets 410."""

    def __init__(self, data):
        self.data = data
        self.calls = []
        self.lock = threading.Lock()
        self.first_held = threading.Event()
        self.second_sent = threading.Event()
        self.release_first = threading.Event()
        self.release_second = threading.Event()

    def __call__(self, handler):
        with self.lock:
            number = len(self.calls)
            self.calls.append(handler.headers.get("Range"))
        if number > 1:
            handler.answer(410, {"Content-Type": "text/plain"}, b"gone")
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(self.data)))
        handler.end_headers()
        if number == 0:
            handler.wfile.write(self.data[:HELD_AT])
            self.first_held.set()
            self.release_first.wait(300)
            handler.wfile.write(self.data[HELD_AT:])
        else:
            handler.wfile.write(self.data[:4 * MB])
            self.second_sent.set()
            self.release_second.wait(300)
            handler.close_connection = True   # cut short


def start_held_download(fake, data, target):
    """`dcor-depot download ds TARGET` of one file `data`, held once its
    first HELD_AT bytes are on the disk."""
    fake.logged_in()
    fake.dataset("ds", {"ds/a.bin": data})
    held = fake.routes["/file/0"] = HeldFile(data)
    process = start(fake.url, "download", "ds", target)
    wait_for(lambda: held.first_held.is_set() and
             size_of(target / "ds" / "a.bin.part") == HELD_AT,
             "the run's first bytes on the disk", process)
    return held, process


def test_two_downloads_into_one_target(tmp_path):
    data = os.urandom(SIZE)
    folder = tmp_path / "ds"
    part, final = folder / "a.bin.part", folder / "a.bin"
    with FakeSite() as fake:
        held, first = start_held_download(fake, data, tmp_path)
        second = start(fake.url, "download", "ds", tmp_path)
        # either the second run ends (refused), or it restarted the shared
        # .part from its start (what a run without the lock does)
        wait_for(lambda: second.poll() is not None or (
            held.second_sent.is_set() and size_of(part) == 4 * MB),
            "the second run to end or to write", first)
        held.release_first.set()
        first_out, first_err = first.communicate(timeout=300)
        held.release_second.set()
        second_out, second_err = second.communicate(timeout=300)

    results = [(first.returncode, first_out, first_err),
               (second.returncode, second_out, second_err)]
    for code, out, err in results:
        if code == 0:   # reported as verified: then it is
            assert hashlib.sha256(final.read_bytes()).hexdigest() == \
                hashlib.sha256(data).hexdigest(), (out, err)
    # what happens here: the first run holds the folder, the second is
    # refused in one line before it touches a file
    assert first.returncode == 0, first_err
    assert "1 fetched, 0 already present, 0 failed" in first_out
    one_line_error(subprocess.CompletedProcess([], second.returncode,
                                               second_out, second_err),
                   "another dcor-depot download is writing into",
                   str(folder))
    assert len(held.calls) == 1
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"],
                           cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # the lock died with its run: the next run finds the file in place
    with FakeSite() as fake:
        fake.logged_in()
        fake.dataset("ds", {"ds/a.bin": data})
        again = run(fake.url, "download", "ds", tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 fetched, 1 already present, 0 failed" in again.stdout


def test_part_replaced_by_another_program(tmp_path):
    """The run hashed the bytes it wrote; the path no longer names that
    file, so those bytes prove nothing about it."""
    data = os.urandom(SIZE)
    folder = tmp_path / "ds"
    part, final = folder / "a.bin.part", folder / "a.bin"
    with FakeSite() as fake:
        held, run_ = start_held_download(fake, data, tmp_path)
        other = folder / "other"
        other.write_bytes(os.urandom(SIZE))
        os.replace(other, part)
        held.release_first.set()
        out, err = run_.communicate(timeout=300)
    one_line_error(subprocess.CompletedProcess([], run_.returncode, out, err),
                   "ds/a.bin", "a.bin.part was replaced, removed or cut by "
                   "another program")
    assert "0 fetched, 0 already present, 1 failed" in out
    assert not final.exists()


@pytest.mark.parametrize("names, problem", [
    (["ds/Data.txt", "ds/data.txt"], "differ only in case"),
    (["ds/caf\u00e9.txt", "ds/CAFE\u0301.txt"], "differ only in case"),
    (["ds/a.bin", "ds/A.BIN.part"], "meet as 'A.BIN.part'"),
    (["ds/a.bin.part", "ds/a.bin"], "meet as 'a.bin.part'"),
    (["ds/x.txt", "ds/Manifest.SHA256"], "differ only in case"),
])
def test_names_that_are_one_file_are_refused(tmp_path, names, problem):
    root = tmp_path / "root"
    root.mkdir()
    with FakeSite() as fake:
        fake.logged_in()
        fake.dataset("ds", {name: name.encode() for name in names})
        result = run(fake.url, "download", "ds", root / "target")
    one_line_error(result, "refused the site's manifest", problem)
    assert os.listdir(root) == []


@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins")
def test_two_downloads_from_the_real_site(account, run_worker, tmp_path):
    """Two runs started together against the real site and S3: each ends
    with verified files or a one-line refusal, whichever comes first."""
    _, digests = uploaded(account, run_worker, tmp_path, "shared",
                          {"big.rtdc": 60 * MB + 3, "small.tsv": 1000})
    target = tmp_path / "target"
    runs = [account.start("download", "shared", target) for _ in range(2)]
    outcomes = [(process.wait(600), *process.communicate())
                for process in runs]
    assert any(code == 0 for code, _, _ in outcomes), outcomes
    for code, out, err in outcomes:
        if code != 0:
            one_line_error(subprocess.CompletedProcess([], code, out, err),
                           "another dcor-depot download is writing into")
    folder = target / "shared"
    for name, digest in digests.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() \
            == digest
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"],
                           cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
