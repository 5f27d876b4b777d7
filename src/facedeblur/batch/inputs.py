"""Input expansion for every batch command: files, folders, glob patterns and ``@lists``.

Folders are searched recursively for files with the given extensions (hidden files and folders are
skipped, symbolic links to folders are not followed, so a link loop cannot trap the search); files
named directly are taken whatever their extension (the command says whether it can read them);
``@list.txt`` names one path per line (``#`` comments, blank lines skipped; relative paths are taken
from the current folder); glob patterns (``photos/*.jpg``, ``**``) expand to files and folders. Each
problem (no such file, a pattern matching nothing, a FIFO, a dangling link, a folder without
matching files) becomes one line, and the run goes on with the rest.

This module holds the one list of image and video extensions of the package.

Example:
    >>> import tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> for name in ("a.jpg", "sub/b.PNG", "notes.txt", ".hidden.jpg"):
    ...     os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
    ...     open(os.path.join(root, name), "w").close()
    >>> found = expand_inputs([root, os.path.join(root, "missing.jpg")])
    >>> [f.rel.as_posix() for f in found.files]
    ['a.jpg', 'sub/b.PNG']
    >>> [message.split(": ", 1)[1] for _, message in found.problems]
    ['no such file or folder']
"""

from __future__ import annotations

import errno
import glob
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
MEDIA_EXTENSIONS: tuple[str, ...] = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


def is_image_path(path: str | Path) -> bool:
    """True when ``path`` ends in one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_video_path(path: str | Path) -> bool:
    """True when ``path`` ends in one of :data:`VIDEO_EXTENSIONS` (any case)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def real_path(path: str | Path) -> Path:
    """The absolute path with symbolic links resolved; never raises (a link loop resolves as far as it goes)."""
    return Path(os.path.realpath(os.fspath(path)))


@dataclass(frozen=True)
class InputFile:
    """One input file.

    Attributes:
        path: the file as named or found.
        rel: its name relative to an output folder: a file found in a folder keeps its sub-folders,
            a file named directly keeps only its name.
        folder: the input folder it was found in (None for files named directly or by a pattern).
    """

    path: Path
    rel: Path
    folder: Path | None = None


@dataclass
class Inputs:
    """What :func:`expand_inputs` found.

    Attributes:
        files: the input files, in the order given (files of a folder sorted), each name once (a
            symbolic link to a file is a name of its own).
        problems: ``(item, one-line message)`` for each name that gave no file.
        folders: the input folders read (outputs may not land inside them).
    """

    files: list[InputFile] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def expand_inputs(
    items: Iterable[str | Path],
    extensions: Sequence[str] = MEDIA_EXTENSIONS,
    kinds: str = "images or videos",
) -> Inputs:
    """Expand files, folders, glob patterns and ``@lists`` into input files.

    Args:
        items: what the user named.
        extensions: the extensions searched for inside folders (lower case, with the dot).
        kinds: what those extensions are, for the message of a folder without any.

    Returns:
        An :class:`Inputs`; each file appears once (by its absolute path, links not resolved).
    """
    found = Inputs()
    seen_lists: set[Path] = set()
    extensions = tuple(e.lower() for e in extensions)

    def add(item: str) -> None:
        if item.startswith("@") and len(item) > 1:
            add_list(Path(item[1:]), item)
            return
        path = Path(item)
        try:
            mode = os.stat(path).st_mode
        except OSError as err:
            if os.path.islink(path):
                found.problems.append((item, f"{item}: broken symbolic link (its target does not exist)"))
            elif glob.has_magic(item):
                add_pattern(item)
            elif err.errno == errno.ELOOP:
                found.problems.append((item, f"{item}: symbolic link loop"))
            else:
                found.problems.append((item, f"{item}: no such file or folder"))
            return
        if stat.S_ISDIR(mode):
            add_folder(path, item)
        elif stat.S_ISREG(mode):
            found.files.append(InputFile(path, Path(path.name)))
        else:
            found.problems.append((item, f"{item}: not a regular file ({_kind_of(mode)})"))

    def add_pattern(item: str) -> None:
        matches = sorted(glob.glob(item, recursive=True))
        if not matches:
            found.problems.append((item, f"{item}: no file matches this pattern"))
        for match in matches:
            add(match)

    def add_list(list_path: Path, item: str) -> None:
        key = real_path(list_path)
        if key in seen_lists:
            return
        seen_lists.add(key)
        try:
            lines = list_path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        except OSError as err:
            found.problems.append((item, f"{list_path}: cannot read the file list ({err.strerror or err})"))
            return
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                add(line)

    def add_folder(root: Path, item: str) -> None:
        found.folders.append(root)
        files, problems = _walk(root, extensions)
        found.problems.extend(problems)
        if not files and not problems:
            wanted = ", ".join(e[1:] for e in extensions)
            found.problems.append((item, f"{item}: no {kinds} in this folder ({wanted})"))
        found.files.extend(InputFile(p, p.relative_to(root), root) for p in files)

    for item in items:
        add(os.fspath(item))
    unique, seen = [], set()
    for entry in found.files:  # a file named twice counts once; a link is a name of its own
        key = os.path.abspath(entry.path)
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    found.files = unique
    return found


def _walk(root: Path, extensions: tuple[str, ...]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files under ``root`` with ``extensions`` (sorted), and problems (dangling links, unreadable folders)."""
    files: list[Path] = []
    problems: list[tuple[str, str]] = []

    def on_error(err: OSError) -> None:
        name = err.filename or root
        problems.append((str(name), f"{name}: cannot read this folder ({err.strerror or err})"))

    for folder, dirs, names in os.walk(root, onerror=on_error, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in extensions:
                continue
            path = Path(folder) / name
            try:
                mode = os.stat(path).st_mode
            except OSError:
                problems.append((str(path), f"{path}: broken symbolic link (its target does not exist)"))
                continue
            if stat.S_ISREG(mode):
                files.append(path)
            else:
                problems.append((str(path), f"{path}: not a regular file ({_kind_of(mode)})"))
    return sorted(files, key=lambda p: p.relative_to(root).parts), problems


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"
