"""The docs' generated reference pages list exactly what the code holds:
every configuration key, action, auth function and command, and nothing
else; a key or action without docs is a problem (which fails the docs
build). Pure: the pages are generated into a temporary folder, from the
installed code, without a database or S3."""
from __future__ import annotations

import pathlib
import re
import sys

import click
import pytest
import yaml
from click.testing import CliRunner

from ckanext.dcor_depot.plugin import DCORDepotPlugin

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "doc" / "_ext"))

from dcor_docs import (  # noqa: E402
    actions_page, changelog, commands_page, links, reference, sources)

DECLARATION = REPO / "ckanext" / "dcor_depot" / "config_declaration.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("reference")
    reference.generate(folder)
    return {path.name: path.read_text() for path in folder.iterdir()}


def test_every_key_action_and_command_of_the_code_is_documented(tmp_path):
    # the docs build fails on each of these; the message names what lacks
    assert reference.generate(tmp_path) == []


def declared_keys(path: pathlib.Path) -> list[str]:
    data = yaml.safe_load(path.read_text())
    return [option["key"] for group in data["groups"]
            for option in group["options"]]


def config_keys(page: str) -> list[str]:
    return re.findall(r"^\.\. confval:: (\S+)$", page, re.MULTILINE)


def test_config_page_lists_every_declared_key_once(generated):
    listed = config_keys(generated["config.rst"])
    assert sorted(listed) == sorted(declared_keys(DECLARATION))
    assert len(listed) == len(set(listed))


def config_problems(problems: list[str], path: pathlib.Path) -> list[str]:
    return [problem for problem in problems
            if problem.startswith(f"{path}: ")]


def test_a_key_added_to_the_declaration_appears(tmp_path):
    data = yaml.safe_load(DECLARATION.read_text())
    data["groups"][-1]["options"].append({
        "key": "ckanext.dcor_depot.docs_test_key", "type": "int",
        "default": 7, "description": "A key this test adds."})
    changed = tmp_path / "config_declaration.yaml"
    changed.write_text(yaml.safe_dump(data))
    problems = reference.generate(tmp_path / "out", changed)
    page = (tmp_path / "out" / "config.rst").read_text()
    assert config_problems(problems, changed) == []
    assert sorted(config_keys(page)) == sorted(declared_keys(changed))
    block = page.split(".. confval:: ckanext.dcor_depot.docs_test_key")[1]
    assert block.startswith("\n   :type: integer (validators: "
                            "``convert_int``)\n   :default: ``7``\n")
    assert "A key this test adds." in block


def test_a_key_without_description_is_a_problem(tmp_path):
    data = yaml.safe_load(DECLARATION.read_text())
    data["groups"][0]["options"].append(
        {"key": "ckanext.dcor_depot.undocumented"})
    changed = tmp_path / "config_declaration.yaml"
    changed.write_text(yaml.safe_dump(data))
    problems = reference.generate(tmp_path / "out", changed)
    assert config_problems(problems, changed) == [
        f"{changed}: ckanext.dcor_depot.undocumented has no description"]


def registered(getter: str):
    """What the plugin class hands CKAN through its tk.blanket getters
    (taken from the class itself, where the pages take it from the
    installed entry point; loading it into CKAN would read the database)."""
    return getattr(DCORDepotPlugin(), getter)()


def test_api_page_lists_every_action_and_auth_function(generated):
    page = generated["api.rst"]
    actions = registered("get_actions")
    auth = registered("get_auth_functions")
    listed = re.findall(r"^\.\. py:function:: (\w+)\(", page, re.MULTILINE)
    assert sorted(listed) == sorted(actions)
    listed_auth = re.findall(r"^\.\. _auth-(\w+):$", page, re.MULTILINE)
    assert sorted(listed_auth) == sorted(auth)
    for name, func in actions.items():
        if func.__doc__:  # (one without fails the test above)
            assert func.__doc__.strip().splitlines()[0] in page, name


FULL_DOCSTRING_BUT_PARAMETERS = """Does something.

        Who may call it: anyone.

        :returns: nothing
        :raises NotAuthorized: never
        """


def test_an_action_that_does_not_say_its_parameters_is_a_problem():
    def no_parameters_said(context, data_dict):
        pass
    no_parameters_said.__doc__ = FULL_DOCSTRING_BUT_PARAMETERS

    def takes_none(context, data_dict):
        pass
    takes_none.__doc__ = FULL_DOCSTRING_BUT_PARAMETERS.replace(
        "Does something.", "Does something.\n\n        Takes no parameters.")

    def one_parameter(context, data_dict):
        pass
    one_parameter.__doc__ = FULL_DOCSTRING_BUT_PARAMETERS.replace(
        ":returns:", ":param id: what it acts on\n        :returns:")

    assert [problem.split("its docstring lacks ")[1] for problem in
            actions_page.action_problems("no_parameters_said",
                                         no_parameters_said)] == [
        'a :param ...: field (or "Takes no parameters.")']
    assert actions_page.action_problems("takes_none", takes_none) == []
    assert actions_page.action_problems("one_parameter", one_parameter) == []


def test_an_action_without_full_docs_is_a_problem():
    def undocumented(context, data_dict):
        return {}

    def partly(context, data_dict):
        """Does something.

        :returns: nothing
        """

    assert [problem.split(": ", 1)[-1] for problem in
            actions_page.action_problems("undocumented", undocumented)] == [
        "action undocumented (``ckanext/dcor_depot/tests/"
        "test_docs_reference.py``) has no docstring"]
    assert [problem.split("its docstring lacks ")[1] for problem in
            actions_page.action_problems("partly", partly)] == [
        'a :param ...: field (or "Takes no parameters.")',
        "a :raises ...: field", 'a "Who may call it:" paragraph']
    page, problems = actions_page.actions_page(type("Plugin", (), {
        "get_actions": lambda self: {"undocumented": undocumented},
        "get_auth_functions": lambda self: {"undocumented": undocumented},
    })())
    assert len(problems) == 2 and "auth function undocumented" in problems[1]


def every_command(group: click.Command, prefix: str):
    yield prefix, group
    for name, sub in getattr(group, "commands", {}).items():
        yield from every_command(sub, f"{prefix} {name}")


def test_commands_page_shows_each_commands_help(generated):
    page = generated["commands.rst"]
    ckan = click.Group("ckan", commands=registered("get_commands"))
    scripts = sources.console_scripts()
    assert sorted(scripts) == ["dcor-depot"]
    expected = [pair for name, command in sorted(ckan.commands.items())
                for pair in every_command(command, f"ckan {name}")]
    expected += [pair for name, command in scripts.items()
                 for pair in every_command(command, name)]
    listed = re.findall(r"^\.\. _cli-(\S+):$", page, re.MULTILINE)
    assert sorted(listed) == sorted(path.replace(" ", "-")
                                    for path, _ in expected)
    for path, command in expected:
        root, *args = path.split()
        cli = ckan if root == "ckan" else scripts[root]
        shown = CliRunner().invoke(cli, [*args, "--help"], prog_name=root,
                                   terminal_width=80)
        assert shown.exit_code == 0, path
        block = "".join(f"   {line}".rstrip() + "\n"
                        for line in shown.output.rstrip().splitlines())
        assert f".. code-block:: text\n\n{block}" in page, path


def test_a_command_or_option_without_help_is_a_problem():
    @click.command("bare")
    @click.option("--fast", is_flag=True)
    def bare(fast):
        pass

    _, problems = commands_page.commands_page([bare], {})
    assert problems == ["command ckan bare has no help text (docstring)",
                        "command ckan bare: option --fast has no help text"]


def test_changelog_newest_release_is_setup_cfg_version():
    text = (REPO / "CHANGELOG.rst").read_text()
    version = changelog.setup_cfg_version(REPO / "setup.cfg")
    assert changelog.problems(text, version) == []
    assert changelog.sections(text)[1].startswith(f"{version} - ")
    assert changelog.problems(text, "9.9.9") == [
        f"setup.cfg's version is 9.9.9, the newest release in "
        f"CHANGELOG.rst is {version}"]
    older_first = text.replace("Unreleased\n----------", "Later\n-----")
    assert changelog.problems(older_first, version) == [
        'CHANGELOG.rst: the first section must be "Unreleased"']


def test_link_check_finds_missing_files_and_anchors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a> <a href="#top" id="top">ok</a>'
        '<a href="https://example.org/x">external</a>'
        '<img src="missing.png"> <a href="sub/page.html#gone">bad</a>')
    (tmp_path / "sub" / "page.html").write_text(
        '<h1 id="here">x</h1><a href="../index.html#top">ok</a>'
        '<a href="../../outside.html">bad</a>')
    checked, broken = links.broken_links(tmp_path)
    assert checked == 6
    assert broken == [
        "index.html: missing.png: no such file",
        "index.html: sub/page.html#gone: no id 'gone' there",
        "sub/page.html: ../../outside.html: leaves the build"]
