"""Every relative link and image in README.md, docs/*.md and benchmarks/README.md resolves: file and anchor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", REPO / "benchmarks" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def unfenced(text: str) -> list[str]:
    """The lines of ``text`` outside its fenced code blocks.

    Example:
        >>> unfenced("a\\n```\\n# not a heading\\n```\\nb")
        ['a', 'b']
    """
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def prose(text: str) -> str:
    """``text`` without its fenced code blocks and inline code spans (links there are not links).

    Example:
        >>> prose("a `[x](y)` b\\n```\\n[c](d)\\n```\\n[e](f)")
        'a  b\\n[e](f)'
    """
    return "\n".join(re.sub(r"`[^`]*`", "", line) for line in unfenced(text))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a markdown document (``-1``, ``-2`` for repeats).

    Example:
        >>> sorted(anchors("# Video (CPU)\\n## `default` — the U-Net\\n## Video (CPU)"))
        ['default--the-u-net', 'video-cpu', 'video-cpu-1']
    """
    found: set[str] = set()
    for line in unfenced(text):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower().replace("`", "")).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in found:
            n += 1
            anchor = f"{slug}-{n}"
        found.add(anchor)
    return found


def broken_links(document: Path, root: Path = REPO) -> list[str]:
    """The relative links of ``document`` whose file or anchor does not exist (files named from ``root``)."""
    text = document.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(prose(text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            broken.append(f"{target}: no {path}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(root)}")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(document: Path):
    assert broken_links(document) == []


def test_a_broken_file_or_anchor_is_reported(tmp_path: Path):
    (tmp_path / "other.md").write_text("# Set up\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n[ok](other.md#set-up) [self](#title) [web](https://example.com/x)\n"
        "[gone](missing.md) [anchor](other.md#usage) ![img](images/x.png)\n```\n[code](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "missing.md: no missing.md",
        "other.md#usage: no heading #usage in other.md",
        "images/x.png: no images/x.png",
    ]
