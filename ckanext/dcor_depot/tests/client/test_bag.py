"""`dcor-depot download --bag` and `dcor-depot bag` (issue 28, item 2):
bags that bagit.py and DCOR-Aid 1.1.3 accept, byte for byte the bags the
site streams, skipped when complete, finished after a SIGKILL without
fetching again what was complete."""
import io
import json
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest
import requests

from dcoraid.bagit import manifest as dcoraid_manifest

from ..helpers import kill_when, write_random_file

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

MB = 1024**2
BAGIT_PY = str(pathlib.Path(sys.executable).with_name("bagit.py"))


def uploaded(account, tmp_path, name, sizes):
    source = tmp_path / f"source-{name}"
    source.mkdir()
    for n, (file, size) in enumerate(sizes.items()):
        write_random_file(source / file, size, seed=n)
    result = account.run("upload", account.circle["name"], name, source)
    assert result.returncode == 0, result.stderr


def valid(bag):
    checked = subprocess.run([BAGIT_PY, "--validate", str(bag)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert dcoraid_manifest.is_bagged(bag)


def files_below(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def test_download_bag_is_the_bag_the_site_streams(account, run_worker,
                                                  tmp_path):
    uploaded(account, tmp_path, "bagged", {
        "cells one.rtdc": 300_001, "Zürich ünïcödé — 測定.tsv": 4_000,
        "50% gain.txt": 11})
    run_worker()
    target = tmp_path / "target"
    result = account.run("download", "--bag", "bagged", target)
    assert result.returncode == 0, result.stderr
    # the upload added its MANIFEST.sha256 as the dataset's last file
    assert "4 fetched" in result.stdout
    bag = target / "01_bagged"
    valid(bag)
    assert (bag / "data" / "50_ gain.txt").stat().st_size == 11

    # the same bag as the site's archive, every byte of every file
    answer = requests.get(f"{account.site}/dataset/bagged/archive?"
                          "layout=bagit",
                          headers={"Authorization": account.token})
    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        archive.extractall(tmp_path / "site")
    assert files_below(bag) == files_below(tmp_path / "site" / "01_bagged")

    again = account.run("download", "--bag", "bagged", target)
    assert again.returncode == 0, again.stderr
    assert "0 fetched, 4 already present" in again.stdout

    # one changed byte: the bag is no longer complete, the file is fetched
    changed = bag / "data" / "cells one.rtdc"
    data = bytearray(changed.read_bytes())
    data[5] ^= 1
    changed.write_bytes(bytes(data))
    assert subprocess.run([BAGIT_PY, "--validate", str(bag)],
                          capture_output=True).returncode != 0
    repaired = account.run("download", "--bag", "bagged", target)
    assert repaired.returncode == 0, repaired.stderr
    assert "1 fetched, 3 already present" in repaired.stdout
    valid(bag)


def test_bag_circle_killed_half_way_then_rerun(account, run_worker,
                                               tmp_path):
    uploaded(account, tmp_path, "first-one", {"a.tsv": 1000, "b.txt": 20})
    sizes = {f"part-{n}.rtdc": 40 * MB + n for n in range(4)}
    uploaded(account, tmp_path, "second-one", sizes)
    run_worker()
    target = tmp_path / "circle"
    circle = account.circle["name"]
    second = target / "02_second-one" / "data"
    process = account.start("bag", circle, target, "--jobs", "1")
    kill_when(process, lambda: (second / "part-0.rtdc").exists())
    complete = sorted(p.name for p in second.iterdir()
                      if not p.name.endswith(".part"))
    assert "part-0.rtdc" in complete and len(complete) < 4
    assert not (target / "02_second-one" / "tagmanifest-sha256.txt").exists()
    assert not dcoraid_manifest.is_bagged(target / "02_second-one")

    result = account.run("bag", circle, target, "-v")
    assert result.returncode == 0, result.stderr
    for name in complete:  # complete files were not fetched again
        assert f"already present: second-one/{name}" in result.stderr
        assert f"fetched second-one/{name}" not in result.stderr
    assert "01_first-one: 0 fetched, 3 already present" in result.stdout
    assert f"{circle}: 2 bags, 0 unfinished" in result.stdout
    for bag in ("01_first-one", "02_second-one"):
        valid(target / bag)
    listed = [json.loads(line)["name"] for line in
              (target / "circle.jsonlines").read_text().splitlines()]
    assert listed == ["first-one", "second-one"]

    # the circle changed: that folder's numbering no longer holds
    uploaded(account, tmp_path, "third-one", {"c.tsv": 5})
    refused = account.run("bag", circle, target)
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0
    assert re.match(r"Error: .*circle.jsonlines does not list the datasets",
                    refused.stderr)
