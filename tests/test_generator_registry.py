"""The generator registry: which generators a configuration can run, and building one by name."""

from __future__ import annotations

import importlib.util

import pytest

from rag.embedders.hashing import HashEmbedder
from rag.errors import GeneratorError
from rag.generators.base import GuardedGenerator
from rag.generators.registry import GENERATOR_NAMES, available_generators, build_generator
from rag.settings import Settings


def _no_counter():
    raise AssertionError("the extractive generator must not ask for a token counter")


def test_extractive_is_always_available_and_openai_only_when_configured() -> None:
    bare = available_generators(Settings(openai_base_url=None))
    assert bare[0] == "extractive" and "openai" not in bare
    configured = available_generators(Settings(openai_base_url="http://127.0.0.1:9/v1"))
    assert "openai" in configured
    assert configured == [name for name in GENERATOR_NAMES if name in configured]


def test_local_is_listed_exactly_when_llama_cpp_is_installed() -> None:
    # make setup-test installs llama-cpp-python and the packaged GGUF parts; a core install has neither.
    listed = "local" in available_generators(Settings())
    assert listed == (importlib.util.find_spec("llama_cpp") is not None)


def test_build_by_name_and_unknown_names() -> None:
    generator = build_generator("extractive", Settings(), HashEmbedder(dim=16), _no_counter)
    assert isinstance(generator, GuardedGenerator)
    with pytest.raises(GeneratorError, match="unknown generator 'nope'"):
        build_generator("nope", Settings(), HashEmbedder(dim=16), _no_counter)
    with pytest.raises(GeneratorError, match="VERBATIM_OPENAI_BASE_URL"):
        build_generator("openai", Settings(openai_base_url=None), HashEmbedder(dim=16), _no_counter)
