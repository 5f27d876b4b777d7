"""One CLI grammar: help on every option, examples in every sub-command, the shared options everywhere."""

from __future__ import annotations

import argparse

import pytest

from facedeblur.cli import build_parser, main, subcommand_parsers

# Sub-commands that run over many inputs and must share the batch grammar.
BATCH_COMMANDS = (
    "restore",
    "faces",
    "degrade images",
    "degrade video",
    "data curate",
    "data inspect",
    "data parse-labels",
    "evaluate",
    "mine",
)
PROGRESS_COMMANDS = (*BATCH_COMMANDS[:3], "degrade video", "degrade kernels", "data curate", "data parse-labels")
PROGRESS_COMMANDS += ("evaluate", "mine", "benchmark", "train")


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: action for action in parser._actions for opt in action.option_strings}


@pytest.fixture(scope="module")
def parsers() -> dict[str, argparse.ArgumentParser]:
    return dict(subcommand_parsers(build_parser()))


def test_every_option_has_help_and_every_command_has_examples(parsers):
    assert set(BATCH_COMMANDS) <= set(parsers)
    for name, parser in parsers.items():
        assert parser.epilog and "examples:" in parser.epilog and "facedeblur " in parser.epilog, name
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                assert action.option_strings == ["--no-progress"], (name, action.option_strings)
                continue
            assert action.help, (name, action.option_strings or action.dest)
        assert "--debug" in _options(parser), name


def test_shared_options_are_spelled_alike(parsers):
    for name in BATCH_COMMANDS:
        assert "--skip-bad" in _options(parsers[name]) and "--no-skip-bad" in _options(parsers[name]), name
    for name in PROGRESS_COMMANDS:
        assert "--quiet" in _options(parsers[name]), name
    for name, parser in parsers.items():
        options = _options(parser)
        if "--device" in options and name != "train":
            assert options["--device"].default == "auto", name
        if "--set" in options:
            assert options["--set"].nargs == "+", name
    from facedeblur.models.hub import bundled_catalogue

    restorers = [e.name for e in bundled_catalogue() if e.architecture and not e.component]
    assert restorers and "parsenet" not in restorers
    for name in ("restore", "evaluate", "serve"):
        help_text = _options(parsers[name])["--model"].help
        assert all(model in help_text for model in restorers) and "parsenet" not in help_text, name
    assert all(model in _options(parsers["benchmark"])["--models"].help for model in restorers)


def test_set_takes_several_values_and_the_old_no_progress_still_works(parsers):
    args = parsers["degrade images"].parse_args(["in", "-o", "out", "--set", "a=1", "b=2", "--set", "c=3"])
    assert args.set == ["a=1", "b=2", "c=3"]
    assert parsers["degrade images"].parse_args(["in", "-o", "out", "--no-progress"]).quiet is True
    assert parsers["mine"].parse_args(["v.mp4", "-o", "d", "--set", "iou_threshold=0.6"]).set == ["iou_threshold=0.6"]


def test_set_without_key_value_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["mine", "-o", "d", "--set", "iou_threshold=0.6", "video.mp4"])
    assert exit_info.value.code == 2
    assert "'video.mp4' is not KEY=VALUE" in capsys.readouterr().err


def test_components_are_refused_as_restorers(tmp_path, capsys):
    from facedeblur.images import write_image

    write_image(tmp_path / "in" / "a.png", __import__("numpy").zeros((8, 8, 3), "uint8"))
    assert main(["restore", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--model", "parsenet"]) == 2
    err = capsys.readouterr().err
    assert "parsenet network is a component" in err and "chrysos" in err and err.count("\n") == 1
