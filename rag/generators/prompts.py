"""Prompt templates: Jinja files under ``prompts/``, rendered in a sandbox that refuses gaps."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

from rag.errors import PromptError


# The top-level ``prompts`` package, installed with Verbatim: its templates are package data.
PACKAGED_PROMPTS = "prompts"


def load_prompt(name: str, directory: Path | None = None) -> PromptTemplate:
    """The template ``name`` from ``directory``, or the one installed with Verbatim when it is ``None``.

    :raises PromptError: the template cannot be read or is invalid.
    """
    return PromptTemplate(directory / name if directory is not None else files(PACKAGED_PROMPTS) / name)


class PromptTemplate:
    """A template file whose variables are all required."""

    def __init__(self, path: Traversable) -> None:
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PromptError(f"cannot read prompt template {path}: {exc.strerror}") from exc
        environment = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
        try:
            self._template = environment.from_string(source)
            self.variables = frozenset(meta.find_undeclared_variables(environment.parse(source)))
        except TemplateError as exc:
            raise PromptError(f"prompt template {path} is invalid: {exc}") from exc
        self.path = path

    def render(self, **values: Any) -> str:
        missing = self.variables - values.keys()
        if missing:
            raise PromptError(f"prompt {self.path.name} needs {sorted(missing)}")
        try:
            return self._template.render(**values)
        except TemplateError as exc:
            raise PromptError(f"prompt {self.path.name} failed to render: {exc}") from exc
