"""The API reference: every action and auth function the plugin registers
through ``tk.blanket`` (its ``get_actions`` and ``get_auth_functions``),
with the docstrings, parameters and who may call each.

An action's docstring is the reference, so it must say its parameters
(or that it takes none), what it returns, who may call it and how it
fails; one that does not is a problem, and a problem fails the build.
"""
from __future__ import annotations

import inspect
import pathlib
import re
from typing import Any, Callable

from . import rst

PARAM = re.compile(r"^:param (\w+):", re.MULTILINE)
# what every action's docstring must hold, and how to say it is missing
REQUIRED = ((re.compile(r"^(:param \w+:|Takes no parameters\.)",
                       re.MULTILINE),
             'a :param ...: field (or "Takes no parameters.")'),
            (re.compile(r"^:returns?:", re.MULTILINE), "a :returns: field"),
            (re.compile(r"^:raises \w+:", re.MULTILINE),
             "a :raises ...: field"),
            (re.compile(r"^Who may call it:", re.MULTILINE),
             'a "Who may call it:" paragraph'))

# CKAN's exceptions that actions raise, and the HTTP status of each
# (by their names in ckan.plugins.toolkit, as the docstrings give them)
ERRORS = (("ValidationError", 409,
           "a parameter is missing or wrong; the answer names each field"),
          ("NotAuthorized", 403,
           "the caller may not do this (anonymous callers included)"),
          ("ObjectNotFound", 404, "what the call names does not exist"))

INTRO = """\
The extension's API actions are called as CKAN's own are, through
``/api/3/action/{name}`` (GET for those marked so, else POST) or a
client such as ckanapi. This page is generated at every docs build from
the actions and auth functions the plugin registers; an action whose
docstring does not say its parameters, what it returns, who may call it
and how it fails fails the build.

"""


def _where(func: Callable) -> str:
    source = pathlib.Path(inspect.getsourcefile(func) or "?")
    parts = source.parts
    if "ckanext" in parts:
        source = pathlib.Path(*parts[parts.index("ckanext"):])
    return f"``{source.as_posix()}``"


def action_problems(name: str, func: Callable) -> list[str]:
    text = rst.docstring(func)
    if not text:
        return [f"action {name} ({_where(func)}) has no docstring"]
    return [f"action {name} ({_where(func)}): its docstring lacks {what}"
            for pattern, what in REQUIRED if not pattern.search(text)]


def _signature(name: str, func: Callable, text: str) -> str:
    params = PARAM.findall(text)
    if getattr(func, "chained_action", False):
        params.append("**ckan_parameters")
    return f"{name}({', '.join(params)})"


def _action_block(name: str, func: Callable,
                  auth: dict[str, Callable]) -> str:
    text = rst.docstring(func)
    if getattr(func, "chained_action", False):
        method = f"as CKAN's own ``{name}``, which this one runs around"
    else:
        method = "GET or POST" if getattr(func, "side_effect_free", False) \
            else "POST"
    checker = f":ref:`auth-{name}`" if name in auth else \
        f"CKAN's own ``{name}``"
    # generic fields, kept beside the docstring's own by Sphinx
    body = (f"{text}\n\n:HTTP method: {method}\n"
            f":Auth function: {checker}\n:Defined in: {_where(func)}\n")
    return (rst.label(f"action-{name}") +
            f".. py:function:: {_signature(name, func, text)}\n"
            "   :no-index-entry:\n\n" + rst.indent(body) + "\n")


def _auth_block(name: str, func: Callable) -> str:
    anonymous = getattr(func, "auth_allow_anonymous_access", False)
    who = ("Anonymous callers are asked too." if anonymous else
           "Anonymous callers are refused before it is asked (CKAN's 403).")
    return (rst.label(f"auth-{name}") + rst.heading(f"``{name}``", 2) +
            f"Function ``{func.__name__}`` in {_where(func)}. {who}\n\n" +
            rst.docstring(func) + "\n\n")


def _errors_section() -> str:
    out = [rst.heading("Errors", 1),
           "Actions fail by raising one of CKAN's exceptions; the API "
           "answers with its HTTP status and ``success: false``.\n\n",
           ".. py:currentmodule:: ckan.plugins.toolkit\n\n"]
    for name, status, meaning in ERRORS:
        out.append(f".. py:exception:: {name}\n"
                   "   :no-index-entry:\n\n"
                   f"   HTTP {status}: {meaning}.\n\n")
    return "".join(out)


def actions_page(plugin: Any) -> tuple[str, list[str]]:
    """The page's text and its problems, from the plugin's registrations."""
    actions = plugin.get_actions()
    auth = plugin.get_auth_functions()
    problems = []
    for name in sorted(actions):
        problems += action_problems(name, actions[name])
    for name in sorted(auth):
        if not rst.docstring(auth[name]):
            problems.append(f"auth function {name} ({_where(auth[name])}) "
                            "has no docstring")
    own = sorted(n for n in actions
                 if not getattr(actions[n], "chained_action", False))
    chained = sorted(set(actions) - set(own))
    out = [rst.GENERATED_NOTE, "\n", rst.label("api-reference"),
           rst.heading("API reference", 0), INTRO,
           rst.heading("Actions of the extension", 1)]
    out += [_action_block(name, actions[name], auth) for name in own]
    out.append(rst.heading("CKAN actions the extension chains", 1))
    out.append("These run around CKAN's own action of the same name; "
               "CKAN's parameters and answers apply, with what is said "
               "here.\n\n")
    out += [_action_block(name, actions[name], auth) for name in chained]
    out.append(rst.heading("Auth functions", 1))
    out.append("Who may call an action is decided by the auth function "
               "of the same name.\n\n")
    out += [_auth_block(name, auth[name]) for name in sorted(auth)]
    out.append(_errors_section())
    return "".join(out), problems
