"""A Griffe extension for the API reference: the docstrings are written with reST roles
(:class:`MaskSpace`, :func:`~deap_gan_prune.nets.slimming.slim`) and literal-block markers
(a paragraph ending in ``::``). Markdown knows neither, so each role becomes inline code
(the last component only with ``~``) and ``::`` a single colon."""
from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`([^`]+)`")
LITERAL = re.compile(r"(?<=\S)::$", re.M)
ALONE = re.compile(r"^(\s*)::$", re.M)


def _code(match: re.Match) -> str:
    target = match.group(1).strip()
    if "<" in target and target.endswith(">"):  # :func:`title <target>`
        return f"`{target.split('<', 1)[0].strip()}`"
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target.lstrip('.')}`"


def convert(text: str) -> str:
    """The docstring ``text`` with its reST roles and ``::`` markers made Markdown."""
    text = ROLE.sub(_code, text)
    text = LITERAL.sub(":", text)
    return ALONE.sub(r"\1", text)


class RestRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
