"""The one progress display: a bar on a terminal, plain lines elsewhere, nothing with --quiet."""

from __future__ import annotations

import io

from facedeblur.progress import LineProgress, NoProgress, format_duration, progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_when_not_on_a_terminal_say_done_rate_and_eta():
    out = io.StringIO()
    bar = progress(total=10, desc="restore clip.mp4", unit="frame", stream=out, interval=0)
    assert isinstance(bar, LineProgress)
    bar.update(4)
    bar.close()
    bar.close()  # closing twice prints once
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("restore clip.mp4: 4/10 frames (40%), ") and "frames/s, ETA " in lines[0]
    assert len(lines) == 2  # one at the update (interval 0), one at the close


def test_lines_are_spaced_by_the_interval():
    out = io.StringIO()
    with progress(range(500), desc="x", unit="file", stream=out, interval=3600) as bar:
        assert list(bar) == list(range(500))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("x: 500/500 files (100%)") and "took" in lines[0]


def test_quiet_prints_nothing_and_a_terminal_gets_the_bar():
    out = io.StringIO()
    quiet = progress(total=3, stream=out, enabled=False, interval=0)
    assert isinstance(quiet, NoProgress)
    quiet.update(3)
    quiet.close()
    assert out.getvalue() == ""
    tty = _Terminal()
    bar = progress(total=3, desc="bar", unit="frame", stream=tty)
    assert not isinstance(bar, LineProgress)
    bar.update(3)
    bar.close()
    assert "3/3" in tty.getvalue()


def test_docstring_examples():
    import doctest

    import facedeblur.progress

    result = doctest.testmod(facedeblur.progress)
    assert result.attempted > 0 and result.failed == 0


def test_unknown_total_and_durations():
    out = io.StringIO()
    bar = LineProgress(desc="mine", unit="window", stream=out, interval=0)
    bar.set_postfix_str("d3.mp4")
    bar.update(2)
    assert bar.line().startswith("mine: 2 windows, ") and bar.line().endswith("[d3.mp4]")
    assert format_duration(59.6) == "1:00" and format_duration(3600) == "1:00:00"
