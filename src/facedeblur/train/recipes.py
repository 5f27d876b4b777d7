"""Training tasks by name (``task:`` in a recipe YAML), and where the shipped recipe files live.

A plain dict, no registration by import: add a line to :data:`TASKS` to add a task.

Example:
    >>> sorted(TASKS)
    ['chrysos', 'dfpgnet', 'parsenet', 'psfrgan', 'restorer']
"""

from __future__ import annotations

import importlib
from pathlib import Path

from facedeblur.config import ConfigError

TASKS: dict[str, str] = {
    "chrysos": "facedeblur.train.tasks.chrysos:ChrysosTask",
    "dfpgnet": "facedeblur.train.tasks.dfpgnet:DFPGnetTask",
    "psfrgan": "facedeblur.train.tasks.psfrgan:PSFRGanTask",
    "parsenet": "facedeblur.train.tasks.parsenet:ParseNetTask",
    "restorer": "facedeblur.train.tasks.restorer:RestorerTask",
}

# The shipped recipes, inside the package (so a wheel has them): facedeblur/configs/.
CONFIG_DIRS: tuple[Path, ...] = (Path(__file__).resolve().parents[1] / "configs",)


def task_class(name: str) -> type:
    """The :class:`~facedeblur.train.task.TrainTask` subclass registered as ``name``.

    Raises:
        ConfigError: unknown task (the message lists the known ones) or its module is missing.
    """
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    module_name, class_name = TASKS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise ConfigError(f"task {name!r} is not available in this version ({module_name} missing)") from err
        raise
    return getattr(module, class_name)


def find_recipe(name_or_path: str) -> Path:
    """Resolve ``facedeblur train RECIPE``: a YAML path, or a recipe name looked up in ``./configs/`` (the
    working folder's own recipes) and then in the shipped ones (:data:`CONFIG_DIRS`).

    Example:
        >>> find_recipe("chrysos-smoke").relative_to(CONFIG_DIRS[0]).as_posix()
        'chrysos-smoke.yaml'

    Raises:
        ConfigError: nothing found; the message lists the shipped recipes.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{path}: no such recipe file")
        return path
    for directory in (Path.cwd() / "configs", *CONFIG_DIRS):
        candidate = directory / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in (Path.cwd() / "configs", *CONFIG_DIRS) if d.is_dir() for p in d.glob("*.yaml")})
    raise ConfigError(f"unknown recipe {name_or_path!r}; known recipes: {', '.join(known) or 'none'}")
