"""pytest plugin for the run of CKAN core's own tests with dcor_depot
loaded (scripts/test-ckan-core.sh passes it with `-p`; the project's own
suite never loads it).

- CKAN's pytest plugin unloads every plugin before the tests run and loads
  only what a test's `ckan.plugins` names (`with_plugins`); here
  `dcor_depot` is loaded before the first test, added to that option of
  every test (so `with_plugins` loads it along) and loaded again after a
  test whose `with_plugins` unloaded it. Each test checks, right before it
  runs, that it is loaded.
- CKAN's reset of the database drops this extension's tables; they are
  made again after every reset.
- Where no Solr answers at `solr_url`, the tests that clean the search
  index (the `clean_index`/`reset_index` fixtures mark a test that needs
  Solr) are deselected and package indexing is switched off, as in the
  project's own conftest.
- `known_differences.txt` lists the tests that fail on purpose (a policy
  of the depot, see doc/concepts.rst, "On purpose different from CKAN";
  expected to fail, strictly, so a listed test that passes fails the
  run), those that need Solr without a fixture that says so (deselected
  where no Solr answers), and those that fail until a fix of another
  branch is merged (expected to fail, not strictly).
- `--without-dcor-depot` runs the same tests with the same settings and
  without the extension: the baseline that shows which failures are the
  extension's.
"""
from __future__ import annotations

import pathlib
import re

import pytest
import sqlalchemy as sa

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.dcor_depot.dev import no_solr
from ckanext.dcor_depot.tests.helpers import upgrade_depot_tables

PLUGIN = "dcor_depot"
KNOWN_DIFFERENCES = pathlib.Path(__file__).with_name("known_differences.txt")
SOLR_FIXTURES = {"clean_index", "reset_index"}
DB_RESET_FIXTURES = {"clean_db", "non_clean_db", "reset_db_once"}


def core_test_id(nodeid: str) -> str:
    """`ckan/tests/...::Class::test[param]`, wherever CKAN is installed."""
    index = nodeid.find("ckan/tests/")
    return nodeid[index:] if index >= 0 else nodeid


KINDS = ("policy", "needs Solr", "pending")


def read_known_differences(path: pathlib.Path, ckan_version: str
                           ) -> dict[str, tuple[str, str]]:
    """test id -> (kind, reason). Each block of test ids follows a heading
    `# KIND: REASON` (KIND one of KINDS); a test id may be led by `[2.11]`
    or `[2.12]` where it concerns one CKAN version only."""
    known = {}
    heading = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        match = re.fullmatch(r"#\s*([^:]+):\s*(.+)", line)
        if match and match.group(1) in KINDS:
            heading = (match.group(1), match.group(2))
            continue
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"(?:\[(\d+\.\d+)\]\s+)?(ckan/tests/\S+)",
                             line)
        if match is None:
            raise pytest.UsageError(f"{path}:{number}: not a test id: "
                                    f"{line!r}")
        if heading is None:
            raise pytest.UsageError(f"{path}:{number}: no heading "
                                    f"({', '.join(KINDS)}) above {line}")
        version, test_id = match.groups()
        if version is None or ckan_version.startswith(version + "."):
            known[test_id] = heading
    return known


def pytest_addoption(parser):
    parser.addoption("--without-dcor-depot", action="store_true",
                     help="run CKAN's tests without dcor_depot (baseline)")


def _with_plugin(config) -> bool:
    return not config.getoption("without_dcor_depot")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    from ckan import __version__ as ckan_version

    known = read_known_differences(KNOWN_DIFFERENCES, ckan_version)
    collected = {core_test_id(item.nodeid) for item in items}
    files = {test_id.split("::")[0] for test_id in collected}
    whole_files = not any("::" in arg for arg in config.args)
    stale = sorted(test_id for test_id in known
                   if whole_files and test_id.split("::")[0] in files
                   and test_id not in collected)
    if stale:
        raise pytest.UsageError(f"{KNOWN_DIFFERENCES.name} lists tests "
                                "that do not exist: " + ", ".join(stale))
    solr = no_solr.solr_answers(tk.config.get("solr_url") or "")
    kept, deselected = [], []
    for item in items:
        kind, reason = known.get(core_test_id(item.nodeid), (None, ""))
        if not solr and (kind == "needs Solr" or SOLR_FIXTURES & set(
                getattr(item, "fixturenames", ()))):
            deselected.append(item)
            continue
        kept.append(item)
        if kind in ("policy", "pending") and _with_plugin(config):
            item.add_marker(pytest.mark.xfail(
                reason=f"{kind}: {reason}", strict=kind == "policy"))
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    if not no_solr.solr_answers(tk.config.get("solr_url") or ""):
        no_solr.switch_off_package_search()


def _depot_tables_missing() -> bool:
    from ckan import model

    return not sa.inspect(model.meta.engine).has_table("dcor_depot_deletion")


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    yield
    if fixturedef.argname in DB_RESET_FIXTURES and _depot_tables_missing():
        upgrade_depot_tables()


def pytest_runtestloop(session):
    """Runs after CKAN's own, which unloads every plugin: dcor_depot is
    loaded once for the tests, and CKAN's snapshot of the configuration
    (restored before each test) is taken again with it loaded, so that
    a test that changes no plugins does not set CKAN up again (that
    doubled the run's time)."""
    if not _with_plugin(session.config):
        return
    from ckan.common import config
    from ckan.tests.pytest_ckan import ckan_setup

    if not p.plugin_loaded(PLUGIN):
        p.load(PLUGIN)
    ckan_setup._config = config.copy()


@pytest.fixture(autouse=True)
def _dcor_depot_loaded(request, ckan_config, monkeypatch):
    """dcor_depot in `ckan.plugins` for every test (so that CKAN's
    with_plugins, where a test uses it, loads it along), and loaded
    again where the last test's with_plugins unloaded it."""
    if not _with_plugin(request.config):
        return
    plugins = ckan_config.get("ckan.plugins") or []
    if isinstance(plugins, str):
        plugins = plugins.split()
    if PLUGIN not in plugins:
        monkeypatch.setitem(ckan_config, "ckan.plugins", [*plugins, PLUGIN])
    if _depot_tables_missing():
        upgrade_depot_tables()
    if "with_plugins" not in request.fixturenames and \
            not p.plugin_loaded(PLUGIN):
        p.load(PLUGIN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    assert p.plugin_loaded(PLUGIN) == _with_plugin(item.config), \
        f"{PLUGIN} is {'not ' * _with_plugin(item.config)}loaded for " \
        f"{item.nodeid}"
    yield
