from dataclasses import dataclass, field

import pytest

from facedeblur.config import ConfigError, apply_overrides, from_dict, load_yaml


@dataclass
class Inner:
    size: int = 128
    names: list[str] = field(default_factory=list)


@dataclass
class Outer:
    lr: float = 1e-3
    inner: Inner = field(default_factory=Inner)
    mode: str = "a"


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="inner.sizee"):
        from_dict(Outer, {"inner": {"sizee": 3}})


def test_wrong_type():
    with pytest.raises(ConfigError, match="integer"):
        from_dict(Outer, {"inner": {"size": "big"}})


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 0.5\ninner:\n  size: 64\n")
    cfg = load_yaml(Outer, path, ["inner.names=[a, b]", "lr=2"])
    assert cfg.lr == 2.0 and cfg.inner.size == 64 and cfg.inner.names == ["a", "b"]
    assert apply_overrides(cfg, ["mode=b"]).mode == "b"
