"""The runnable examples in the docstrings of degrade/ and data/ really run."""

import doctest
import importlib

import pytest

MODULES = [
    "facedeblur.degrade.kernels",
    "facedeblur.degrade.ops",
    "facedeblur.degrade.jpeg",
    "facedeblur.degrade.recipes",
    "facedeblur.degrade.frames",
    "facedeblur.data.sharpness",
    "facedeblur.data.datasets",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
