"""The face toolkit's docstring examples run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["model_files", "detect", "align", "paste", "parsing", "extract"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"facedeblur.face.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
