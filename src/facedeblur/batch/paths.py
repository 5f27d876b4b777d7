"""The output-path policy of every batch command: inputs are never overwritten.

Before anything is written, every path a run will write (outputs, the report, comparisons, face
crops, saved images, output folders) is checked by one :class:`PathPolicy`:

- it may not be one of the inputs (after resolving symbolic links);
- it may not lie inside an input folder being read (a later run would read it as an input, and an
  output named like an input would replace it);
- no two planned outputs of the run may share a path.

Each refusal is a :class:`~facedeblur.errors.UserError` whose message says which path and why, so
the run stops before its first write.

Example:
    >>> import tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> open(os.path.join(root, "a.jpg"), "w").close()
    >>> policy = PathPolicy(files=[os.path.join(root, "a.jpg")], folders=[root])
    >>> try:
    ...     policy.check(os.path.join(root, "report.json"), "--report")
    ... except UserError as err:
    ...     print(str(err).replace(root, "IN"))
    --report IN/report.json: lies inside the input folder IN, which is being read; choose a path outside it
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from facedeblur.batch.inputs import real_path
from facedeblur.errors import UserError


class PathPolicy:
    """Checks and reserves the paths a batch run writes.

    Args:
        files: the run's input files.
        folders: the input folders being read.
    """

    def __init__(self, files: Iterable[str | Path] = (), folders: Iterable[str | Path] = ()) -> None:
        self._inputs: dict[Path, Path] = {real_path(p): Path(p) for p in files}
        self._folders: list[tuple[Path, Path]] = [(real_path(f), Path(f)) for f in folders]
        self._reserved: dict[Path, tuple[str, str]] = {}

    def check(self, path: str | Path, what: str = "output") -> Path:
        """Refuse ``path`` if it is an input or inside an input folder; returns it as a :class:`Path`.

        Raises:
            UserError: naming ``what`` (e.g. ``--report``), the path and the input it would harm.
        """
        path = Path(path)
        key = real_path(path)
        if key in self._inputs:
            raise UserError(f"{what} {path}: would overwrite the input {self._inputs[key]}; choose another path")
        for folder_key, folder in self._folders:
            if key == folder_key or folder_key in key.parents:
                where = "is" if key == folder_key else "lies inside"
                raise UserError(
                    f"{what} {path}: {where} the input folder {folder}, which is being read; choose a path outside it"
                )
        return path

    def check_folder(self, folder: str | Path, what: str = "-o") -> Path:
        """Refuse an output folder that is an input file, an input folder or inside one; also a non-folder.

        Raises:
            UserError: as :meth:`check`, or the path exists and is not a folder.
        """
        folder = Path(folder)
        self.check(folder, what)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{what} {folder}: exists and is not a folder")
        return folder

    def reserve(self, path: str | Path, what: str = "output", source: str | Path = "") -> Path:
        """:meth:`check` ``path`` and claim it for ``source``; a second claim by another source is refused.

        Raises:
            UserError: as :meth:`check`, or another input of the run already writes ``path``.
        """
        path = self.check(path, what)
        key = real_path(path)
        if key in self._reserved and self._reserved[key][1] != str(source):
            other_what, other = self._reserved[key]
            raise UserError(
                f"{what} {path}: both {other} and {source} would be written there; process them separately"
                if other
                else f"{what} {path}: also the {other_what}; choose another path"
            )
        self._reserved[key] = (what, str(source))
        return path

    def is_reserved(self, path: str | Path) -> bool:
        """True when ``path`` was claimed by :meth:`reserve`."""
        return real_path(path) in self._reserved


def check_writable_folder(folder: str | Path, what: str = "-o") -> Path:
    """Create ``folder`` (and parents) and make sure files can be created in it.

    Raises:
        OutputError: it cannot be created or written (read-only file system, permission denied, full).
    """
    import tempfile

    from facedeblur.errors import OutputError, describe_os_error

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".facedeblur-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"{what} {describe_os_error(err, folder)}") from err
    return folder
