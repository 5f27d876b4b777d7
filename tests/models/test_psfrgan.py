"""PSFR-GAN: generator and bundle shapes, conditioning, discriminators, one GAN step, weights round trip."""

from __future__ import annotations

import pytest
import torch

from facedeblur.models.parsenet import logits_to_onehot
from facedeblur.models.psfrgan import build_psfrgan, parse_faces, resize_condition
from facedeblur.models.psfrgan_discriminators import build_psfrgan_discriminator
from facedeblur.train.recipes import CONFIG_DIRS

TINY_P = {
    "size": 32,
    "base_channels": 4,
    "min_channels": 4,
    "max_channels": 8,
    "min_feat_size": 8,
    "num_body_blocks": 1,
}
TINY = {"size": 32, "min_feat_size": 4, "base_channels": 4, "min_channels": 4, "max_channels": 16, "style_hidden": 8}


def _bundle(**kw):
    torch.manual_seed(0)
    return build_psfrgan(**{**TINY, **kw}, parsenet=TINY_P)


def test_bundle_shapes_and_progressive_scales():
    model = _bundle()
    out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 3, 32, 32)
    assert model.generator.sides == [4, 8, 16, 32]
    assert tuple(model.generator.const_input.shape) == (1, 16, 4, 4)  # channels shrink as sides grow
    assert model.generator.to_rgb.in_channels == 4


def test_generator_uses_the_parsing_map_and_the_lq_image():
    model = _bundle().eval()
    lq = torch.rand(1, 3, 32, 32)
    p1 = logits_to_onehot(torch.randn(1, 10, 32, 32))
    p2 = logits_to_onehot(torch.randn(1, 10, 32, 32))
    with torch.no_grad():
        a, b = model(lq, p1), model(lq, p2)
        c = model(torch.rand(1, 3, 32, 32), p1)
    assert (a - b).abs().max() > 1e-4
    assert (a - c).abs().max() > 1e-4


def test_bundle_forward_equals_explicit_parse_then_generate():
    model = _bundle().eval()
    lq = torch.rand(2, 3, 32, 32)
    parsing = model.parse(lq)
    assert torch.equal(parsing.sum(1), torch.ones(2, 32, 32))
    assert torch.equal(parsing, parse_faces(model.parsenet, lq))
    with torch.no_grad():
        torch.testing.assert_close(model(lq), model.generator(lq, parsing))


def test_parsenet_stays_frozen_in_eval_mode():
    model = _bundle().train()
    assert not model.parsenet.training and model.generator.training
    assert not any(p.requires_grad for p in model.parsenet.parameters())


def test_parsenet_at_another_size_is_resized():
    model = build_psfrgan(**{**TINY, "size": 64}, parsenet=TINY_P)
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_resize_condition_keeps_onehot_partition():
    cond = torch.cat([torch.rand(1, 3, 32, 32), logits_to_onehot(torch.randn(1, 10, 32, 32))], 1)
    small = resize_condition(cond, 8)
    assert small.shape == (1, 13, 8, 8)
    torch.testing.assert_close(small[:, 3:].sum(1), torch.ones(1, 8, 8))


def test_spectral_norm_on_generator_convs():
    model = _bundle()
    names = [n for n, _ in model.generator.named_parameters()]
    assert any("head_conv.parametrizations.weight" in n for n in names)
    assert any("stages.0.block.conv0.parametrizations.weight" in n for n in names)


def test_input_checks():
    model = _bundle()
    with pytest.raises(ValueError, match="32x32"):
        model(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="parsing"):
        model.generator(torch.rand(1, 3, 32, 32), torch.rand(1, 5, 32, 32))
    with pytest.raises(ValueError, match="min_feat_size"):
        build_psfrgan(size=32, min_feat_size=64)


def test_discriminators_three_scales_conditioned_on_parsing():
    disc = build_psfrgan_discriminator(num_classes=10, base_channels=4, num_layers=1)
    img = torch.rand(2, 3, 32, 32)
    p1 = logits_to_onehot(torch.randn(2, 10, 32, 32))
    outs = disc(img, p1)
    assert len(outs) == 3
    assert [o[-1].shape[1] for o in outs] == [1, 1, 1]
    assert outs[0][-1].shape[-1] > outs[1][-1].shape[-1] > outs[2][-1].shape[-1]
    p2 = logits_to_onehot(torch.randn(2, 10, 32, 32))
    assert (disc(img, p2)[0][-1] - outs[0][-1]).abs().max() > 0
    norms = [m for m in disc.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms and all(hasattr(c, "parametrizations") for c in disc.modules() if isinstance(c, torch.nn.Conv2d))


def test_one_gan_step_on_cpu_updates_generator_and_discriminator():
    from facedeblur.losses.adversarial import d_hinge_loss, g_hinge_loss
    from facedeblur.losses.feature_matching import feature_matching_loss
    from facedeblur.losses.style import semantic_style_loss

    model = _bundle().train()
    disc = build_psfrgan_discriminator(num_classes=10, base_channels=4, num_layers=1)
    opt_g = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=4e-4, betas=(0.5, 0.999))
    lq, gt = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    before_g = [p.detach().clone() for p in model.generator.parameters()]
    before_p = [p.detach().clone() for p in model.parsenet.parameters()]
    before_d = [p.detach().clone() for p in disc.parameters()]

    parse_lq, parse_hq = model.parse(lq), model.parse(gt)
    fake = model(lq, parse_lq)
    disc.requires_grad_(False)
    fake_outs = disc(fake, parse_hq)
    real_outs = disc(gt, parse_hq)
    feats = [torch.nn.functional.avg_pool2d(fake, 2)]
    real_feats = [torch.nn.functional.avg_pool2d(gt, 2)]
    loss_g = (
        10 * (fake - gt).abs().mean()
        + 10 * feature_matching_loss(fake_outs, real_outs)
        + g_hinge_loss([o[-1] for o in fake_outs])
        + semantic_style_loss(feats, real_feats, parse_hq)
    )
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    disc.requires_grad_(True)
    loss_d = d_hinge_loss([o[-1] for o in disc(gt, parse_hq)], [o[-1] for o in disc(fake.detach(), parse_hq)])
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()

    assert torch.isfinite(loss_g) and torch.isfinite(loss_d)
    assert any(not torch.equal(a, b) for a, b in zip(before_g, model.generator.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(before_p, model.parsenet.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, disc.parameters(), strict=True))


def test_weights_file_holds_both_networks_and_works_alone(tmp_path):
    from facedeblur.models.hub import WeightsMetadata, load_weights, save_weights

    model = _bundle().eval()
    config = {**TINY, "parsenet": TINY_P}
    meta = WeightsMetadata(
        name="psfrgan",
        architecture="psfrgan",
        config=config,
        face_size=32,
        template=[[0.0, 0.0]] * 5,
        training_data="test",
        data_license="test",
        trained_on="cpu",
    )
    save_weights(model, tmp_path / "psfrgan.safetensors", meta)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "psfrgan.safetensors"), framework="pt") as fh:
        keys = list(fh.keys())
    assert any(k.startswith("parsenet.") for k in keys) and any(k.startswith("generator.") for k in keys)
    loaded, _ = load_weights(tmp_path / "psfrgan.safetensors", architecture="psfrgan")
    lq = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(lq), model(lq))


def _tiny_parsenet_file(tmp_path):
    from facedeblur.models.hub import WeightsMetadata, save_weights
    from facedeblur.models.parsenet import build_parsenet

    path = tmp_path / "tiny-parsenet.safetensors"
    meta = WeightsMetadata(
        name="tiny",
        architecture="parsenet",
        config=TINY_P,
        face_size=32,
        template=[[0.0, 0.0]] * 5,
        training_data="test",
        data_license="test",
        trained_on="cpu",
    )
    save_weights(build_parsenet(**TINY_P), path, meta)
    return path


def test_training_task_gan_step_and_export_config(tmp_path):
    from facedeblur.models.registry import build_model
    from facedeblur.train.config import DataConfig
    from facedeblur.train.tasks.psfrgan import PSFRGanTask

    options = PSFRGanTask.parse_options(
        {
            "net": TINY,
            "parsenet_weights": str(_tiny_parsenet_file(tmp_path)),
            "disc": {"base_channels": 4, "num_layers": 1},
            "restore_fraction": 1.0,
            "style_layers": [2, 3],
            "perceptual_weight": 1.0,
        }
    )
    task = PSFRGanTask(options, DataConfig(size=32))
    task.models = task.build_models()
    opts = task.build_optimizers(task.models)
    assert set(opts) == {"generator", "discriminator"}
    n_opt = sum(p.numel() for group in opts["generator"].param_groups for p in group["params"])
    assert n_opt == sum(p.numel() for p in task.models["generator"].generator.parameters())
    rebuilt = build_model("psfrgan", **task.generator_config())
    assert set(rebuilt.state_dict()) == set(task.models["generator"].state_dict())

    batch = {"lq": torch.rand(2, 3, 32, 32), "gt": torch.rand(2, 3, 32, 32), "path": ["a.jpg", "b.jpg"]}
    loss, logs = task.generator_step(batch, 0)
    assert set(logs) == {"l1", "fm", "g_hinge", "style", "perceptual"}
    loss.backward()
    assert task.models["generator"].generator.to_rgb.weight.grad is not None
    d_loss, d_logs = task.discriminator_step(batch, 0)
    d_loss.backward()
    assert "d_hinge" in d_logs and torch.isfinite(d_loss)
    restored = task.restore(task.models["generator"], batch["lq"])
    assert restored.shape == (2, 3, 32, 32)


def test_training_task_refuses_a_non_parsenet_file(tmp_path):
    from facedeblur.config import ConfigError
    from facedeblur.models.hub import WeightsMetadata, save_weights
    from facedeblur.train.config import DataConfig
    from facedeblur.train.tasks.psfrgan import PSFRGanTask

    path = tmp_path / "g.safetensors"
    meta = WeightsMetadata(
        name="g",
        architecture="psfrgan",
        config={**TINY, "parsenet": TINY_P},
        face_size=32,
        template=[[0.0, 0.0]] * 5,
        training_data="t",
        data_license="t",
        trained_on="cpu",
    )
    save_weights(_bundle(), path, meta)
    task = PSFRGanTask(PSFRGanTask.parse_options({"net": TINY, "parsenet_weights": str(path)}), DataConfig(size=32))
    with pytest.raises(ConfigError, match="not parsenet"):
        task.build_models()


@pytest.mark.slow
def test_smoke_recipes_train_export_and_restore_end_to_end(utkface_train, utkface_val, tmp_path):
    """parsenet-smoke -> export -> psfrgan-smoke (with that parsenet) -> export -> a bundle that works alone."""
    import shutil

    from facedeblur.cli import main
    from facedeblur.face.align import template68
    from facedeblur.face.parsing import parsing_map_from_landmarks
    from facedeblur.images import write_image
    from facedeblur.models.hub import load_weights, read_metadata

    train, val, labels = tmp_path / "train", tmp_path / "val", tmp_path / "labels"
    for src, dst, count in ((utkface_train, train, 8), (utkface_val, val, 4)):
        dst.mkdir()
        for path in sorted(src.iterdir())[:count]:
            shutil.copy(path, dst / path.name)
    face_labels = parsing_map_from_landmarks(template68(32), 32)  # UTKFace faces are aligned to the template
    for path in train.iterdir():
        write_image(labels / f"{path.stem}.png", face_labels[:, :, None])
    data = [f"data.train={train}", f"data.val={val}"]

    run_p = tmp_path / "run-parsenet"
    argv = ["train", str(CONFIG_DIRS[0] / "parsenet-smoke.yaml"), "--out", str(run_p)]
    assert main([*argv, "--set", f"options.labels={labels}", *data]) == 0
    parsenet_file = tmp_path / "parsenet.safetensors"
    assert main(["export", str(run_p / "checkpoints/last.ckpt"), "-o", str(parsenet_file)]) == 0
    assert read_metadata(parsenet_file).architecture == "parsenet"

    run_g = tmp_path / "run-psfrgan"
    argv = ["train", str(CONFIG_DIRS[0] / "psfrgan-smoke.yaml"), "--out", str(run_g)]
    assert main([*argv, "--set", f"options.parsenet_weights={parsenet_file}", *data]) == 0
    bundle_file = tmp_path / "psfrgan.safetensors"
    assert main(["export", str(run_g / "checkpoints/last.ckpt"), "-o", str(bundle_file)]) == 0
    model, meta = load_weights(bundle_file, architecture="psfrgan")
    assert meta.config["parsenet"]["size"] == 32
    parsenet, _ = load_weights(parsenet_file)
    for a, b in zip(parsenet.state_dict().values(), model.parsenet.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # the bundle carries the trained parsing network, untouched by GAN training
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("name", ["psfrgan", "parsenet"])
def test_bundled_weights_load_alone_and_say_they_are_cpu_trained(name):
    from facedeblur.models.hub import bundled_models, load_weights

    if name not in bundled_models():
        pytest.skip(f"{name} is not bundled in this checkout")
    model, meta = load_weights(bundled_models()[name], architecture=name)
    assert meta.trained_on == "cpu" and "CPU-trained" in meta.notes
    assert meta.face_size == 128
    with torch.no_grad():
        out = model(torch.rand(1, 3, 128, 128))
    assert out.shape == (1, 3, 128, 128) and torch.isfinite(out).all()
