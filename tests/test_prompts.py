"""Prompt templates: the installed ones found without a folder, an edited folder used when given."""

from __future__ import annotations

import pytest

from rag.errors import PromptError
from rag.generators.prompts import load_prompt
from rag.settings import Settings
from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["answer.j2", "judge.j2"])
def test_the_default_settings_load_the_templates_installed_with_the_package(name):
    template = load_prompt(name, Settings(_env_file=None).prompts_dir)
    assert template.path.read_text(encoding="utf-8") == (ROOT / "prompts" / name).read_text(encoding="utf-8")


def test_a_prompts_folder_replaces_the_installed_templates(tmp_path):
    (tmp_path / "answer.j2").write_text("Answer {{ question }}", encoding="utf-8")
    template = load_prompt("answer.j2", tmp_path)
    assert template.variables == {"question"}
    assert template.render(question="why?") == "Answer why?"


def test_a_template_missing_from_the_folder_is_a_prompt_error(tmp_path):
    with pytest.raises(PromptError, match="cannot read prompt template"):
        load_prompt("answer.j2", tmp_path)
