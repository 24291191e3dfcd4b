"""The client against a real site: `ckan run` (live_site) with a real
worker and the local radosgw. The client runs as the installed
`dcor-depot` console script in a subprocess, as a user runs it."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import requests

from ckan.tests import factories

DCOR_DEPOT = str(pathlib.Path(sys.executable).with_name("dcor-depot"))
# small parts, so that a file of some MB is a multipart upload
PART_SIZE = 10 * 1024**2


@pytest.fixture
def worker_ini(worker_ini):
    text = worker_ini.read_text()
    worker_ini.write_text(text.replace(
        "[app:main]\n", "[app:main]\nckanext.dcor_depot.upload_max_part_size"
        f" = {PART_SIZE}\n", 1))
    return worker_ini


class Account:
    def __init__(self, site):
        self.site = site
        self.user = factories.User()
        self.circle = factories.Organization(
            users=[{"name": self.user["name"], "capacity": "admin"}])
        self.token = factories.APIToken(user=self.user["name"])["token"]

    def env(self, **extra):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("DCOR_")}
        env.update(DCOR_SITE=self.site, DCOR_API_TOKEN=self.token)
        env.update(extra)
        return env

    def show(self, dataset):
        """package_show over HTTP, as the site sees it now."""
        response = requests.get(f"{self.site}/api/3/action/package_show",
                                params={"id": dataset}, timeout=30,
                                headers={"Authorization": self.token})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["result"]

    def command(self, *args, env=None):
        return [DCOR_DEPOT, *map(str, args)]

    def run(self, *args, env=None, timeout=900, **kwargs):
        """`dcor-depot ARGS` with this account's site and token."""
        return subprocess.run(self.command(*args), capture_output=True,
                              text=True, timeout=timeout,
                              env=env or self.env(), **kwargs)

    def start(self, *args, env=None, **kwargs):
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.command(*args), env=env or self.env(),
                                text=True, start_new_session=True, **kwargs)


@pytest.fixture
def account(live_site):
    """A user, a circle they administer and their API token."""
    return Account(live_site)


def one_line_error(result, *words):
    """A failed command: non-zero exit and one line on stderr naming the
    problem."""
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]
