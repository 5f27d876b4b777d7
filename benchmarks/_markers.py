"""Generated blocks in the docs: the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``.

The one helper the benchmark scripts use to write their tables into ``docs/benchmarks.md`` and their
summaries into ``README.md`` (``run_protocols.py``, ``video_quality.py``). Import it from a script with
``sys.path.insert(0, str(Path(__file__).resolve().parents[1]))`` then ``from _markers import ...``.

Example:
    >>> replace_block("a\\n<!-- t:begin -->\\nold\\n<!-- t:end -->\\nb", "t", "new")
    'a\\n<!-- t:begin -->\\nnew\\n<!-- t:end -->\\nb'
    >>> read_block("a\\n<!-- t:begin -->\\nnew\\n<!-- t:end -->\\nb", "t")
    'new'
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"  # the full tables
README = REPO / "README.md"  # the headline summaries


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of block ``name``.

    Args:
        name: the block's name, e.g. ``"benchmarks"`` or ``"video-steady"``.

    Returns:
        ``("<!-- NAME:begin -->", "<!-- NAME:end -->")``.
    """
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def read_block(content: str, name: str) -> str:
    """The text of block ``name`` in ``content``, without the markers and their line breaks.

    Args:
        content: a markdown document.
        name: the block's name.

    Returns:
        The text between the markers, stripped of the newline after the begin and before the end marker.

    Raises:
        ValueError: when the document lacks either marker.
    """
    begin, end = markers(name)
    if begin not in content or end not in content:
        raise ValueError(f"no {begin} ... {end} block")
    inner = content.split(begin, 1)[1].split(end, 1)[0]
    return inner.removeprefix("\n").removesuffix("\n")


def replace_block(content: str, name: str, text: str) -> str:
    """``content`` with block ``name`` holding ``text`` (one newline after the begin, one before the end marker).

    Args:
        content: a markdown document holding the block.
        name: the block's name.
        text: the new text of the block (a trailing newline is dropped).

    Returns:
        The document with the block replaced; the rest is unchanged.

    Raises:
        ValueError: when the document lacks either marker.
    """
    read_block(content, name)  # both markers present
    begin, end = markers(name)
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{text.rstrip(chr(10))}\n{end}{tail}"


def update_file(path: Path, blocks: dict[str, str]) -> int:
    """Replace blocks of one markdown file, all or none; what a script's ``--update-readme`` returns.

    Args:
        path: the file (``DOCS`` or ``README``).
        blocks: block name -> its new text.

    Returns:
        0 when every block was replaced (and the file written), 2 when a marker is missing (the file is
        left as it was, a line on stderr names the file and block).
    """
    content = path.read_text(encoding="utf-8")
    try:
        for name, text in blocks.items():
            content = replace_block(content, name, text)
    except ValueError as error:
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path} has {error} to update", file=sys.stderr)
        return 2
    path.write_text(content, encoding="utf-8")
    print(f"updated {', '.join(blocks)} in {path}", file=sys.stderr)
    return 0
