"""DFPGnet: generator shapes and gradients, discriminators, ablations, one full GAN step on CPU."""

from __future__ import annotations

import pytest
import torch

from facedeblur.models.dfpgnet import DFPGnet, DFPGnetConfig, build_dfpgnet, dfpgnet_config_dict
from facedeblur.models.dfpgnet_discriminators import FeatureDiscriminator, ImageDiscriminator
from facedeblur.models.registry import build_model
from facedeblur.train.recipes import CONFIG_DIRS

SMALL = {"width": 8, "blocks": 1, "middle_blocks": 1, "prior_blocks": 1}


@pytest.mark.parametrize("size", [128, 256])
def test_generator_shapes(size):
    net = build_model("dfpgnet", **SMALL)
    lq = torch.rand(1, 3, size, size)
    with torch.no_grad():
        restored, priors = net(lq, return_prior=True)
        plain = net(lq)
    assert restored.shape == lq.shape
    assert torch.equal(plain, restored)
    assert [tuple(p.shape) for p in priors] == [
        (1, 32, size, size),
        (1, 64, size // 2, size // 2),
        (1, 128, size // 4, size // 4),
    ]
    for p in priors:  # non-negative unit vectors per pixel (or zero where every channel is off)
        assert bool((p >= 0).all())
        norms = p.pow(2).sum(1)
        assert bool(((norms - 1).abs() < 1e-4).logical_or(norms < 1e-6).all())


def test_generator_rejects_bad_input():
    net = build_dfpgnet(**SMALL)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.rand(1, 3, 30, 30))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net(torch.rand(1, 1, 32, 32))
    with pytest.raises(TypeError, match="unexpected keyword"):
        build_dfpgnet(widht=8)
    with pytest.raises(ValueError, match="prior_channels"):
        DFPGnetConfig(prior_channels=(1, 2))


def _grad_norm(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_gradients_reach_both_streams_from_the_image_loss():
    torch.manual_seed(0)
    net = build_dfpgnet(**SMALL, prior_channels=(4, 8, 8))
    lq, gt = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert torch.equal(net(lq), lq)  # zero-initialised output conv: starts as the identity
    torch.nn.init.normal_(net.to_rgb.weight, std=0.1)  # as after a first training step
    (net(lq) - gt).abs().mean().backward()
    for name in ("head", "encoder", "middle", "decoder", "to_rgb", "prior", "fusion"):
        assert _grad_norm(getattr(net, name)) > 0, name
    for branch in net.prior:  # every level of the prior stream, through its feature transform module
        assert _grad_norm(branch) > 0


def test_prior_estimates_get_gradients_from_a_prior_loss():
    from facedeblur.losses.prior import prior_distance

    net = build_dfpgnet(**SMALL, prior_channels=(4, 8, 8))
    _, est = net(torch.rand(2, 3, 32, 32), return_prior=True)
    prior_distance(est, [torch.rand_like(e) for e in est]).backward()
    assert all(_grad_norm(b.head) > 0 for b in net.prior)
    assert _grad_norm(net.encoder) > 0  # the prior stream branches from the shared encoder


@pytest.mark.parametrize(
    "switches",
    [{"use_prior": False}, {"use_ftm": False}, {"use_prior": False, "use_ftm": False}],
)
def test_ablation_generators_work(switches):
    net = build_dfpgnet(**SMALL, **switches)
    lq = torch.rand(2, 3, 32, 32)
    restored, priors = net(lq, return_prior=True)
    assert restored.shape == lq.shape
    assert len(priors) == (0 if not net.use_prior else 3)
    (restored - torch.rand_like(lq)).abs().mean().backward()
    assert _grad_norm(net) > 0
    rebuilt = build_model("dfpgnet", **dfpgnet_config_dict(net))
    rebuilt.load_state_dict(net.state_dict())  # the config dict rebuilds exactly this model


def test_paper_width_geometry():
    net = DFPGnet(DFPGnetConfig(blocks=1, middle_blocks=1, prior_blocks=1))
    assert [g.tail.out_channels for g in net.encoder] == [64, 128, 256]
    assert net.down[0][0].kernel_size == (4, 4) and net.down[0][0].stride == (2, 2)
    assert net.up[0][0].kernel_size == (4, 4)


def test_image_discriminator_shape():
    d = ImageDiscriminator(width=8)
    assert d(torch.rand(2, 3, 128, 128)).shape == (2, 1, 16, 16)
    assert d(torch.rand(1, 3, 256, 256)).shape == (1, 1, 32, 32)
    with pytest.raises(ValueError, match="divisible by 8"):
        d(torch.rand(1, 3, 100, 100))


def test_feature_discriminator_shape_and_channel_attention():
    d = FeatureDiscriminator(prior_channels=(32, 64, 128), width=8)
    feats = [torch.rand(2, 32, 128, 128), torch.rand(2, 64, 64, 64), torch.rand(2, 128, 32, 32)]
    assert d(feats).shape == (2, 1, 16, 16)
    att = d.channel_attention(feats)
    assert [tuple(a.shape) for a in att] == [(2, 32, 1, 1), (2, 64, 1, 1), (2, 128, 1, 1)]
    assert all(bool(((a > 0) & (a < 1)).all()) for a in att)
    with pytest.raises(ValueError, match="prior level 1"):
        d([feats[0], torch.rand(2, 64, 32, 32), feats[2]])
    with pytest.raises(ValueError, match="3 prior maps"):
        d(feats[:2])


# -- the training task ------------------------------------------------------------------------------


def _task(**options):
    from facedeblur.train.config import DataConfig
    from facedeblur.train.tasks.dfpgnet import DFPGnetTask

    opts = {"net": dict(SMALL), "discriminator_width": 8, **options}
    task = DFPGnetTask(DFPGnetTask.parse_options(opts), DataConfig(size=64))
    task.models = task.build_models()
    return task


def _gan_step(task, batch):
    """One generator and one discriminator update, as the engine does them."""
    opts = task.build_optimizers(task.models)
    d_params = [p for n in task.discriminator_modules for p in task.models[n].parameters()]
    for p in d_params:
        p.requires_grad_(False)
    g_loss, g_logs = task.generator_step(batch, 0)
    opts["generator"].zero_grad()
    g_loss.backward()
    opts["generator"].step()
    for p in d_params:
        p.requires_grad_(True)
    out = task.discriminator_step(batch, 0)
    if out is not None:
        d_loss, d_logs = out
        opts["discriminator"].zero_grad()
        d_loss.backward()
        opts["discriminator"].step()
    else:
        d_logs = {}
    return g_loss, g_logs, d_logs


def _batch(size=64, n=2):
    torch.manual_seed(0)
    gt = torch.rand(n, 3, size, size)
    return {"lq": (gt + 0.05 * torch.randn_like(gt)).clamp(0, 1), "gt": gt, "path": ["a"] * n}


def test_one_full_gan_step_on_cpu():
    task = _task(identity_weight=0.1)
    assert set(task.discriminator_modules) == {"image_discriminator", "feature_discriminator", "prior_loss"}
    before = {n: [p.detach().clone() for p in m.parameters()] for n, m in task.models.items()}
    g_loss, g_logs, d_logs = _gan_step(task, _batch())
    assert torch.isfinite(g_loss)
    assert set(g_logs) == {"l1", "prior", "g_feat", "g_img", "identity"}
    assert set(d_logs) == {"d_img", "d_feat", "prior_w"}
    assert g_logs["prior"] > 0 and g_logs["identity"] >= 0
    for name, module in task.models.items():
        changed = any(not torch.equal(a, b) for a, b in zip(before[name], module.parameters(), strict=True))
        assert changed, f"{name} was not updated"


@pytest.mark.parametrize(
    ("options", "discriminators", "logs"),
    [
        ({"net": {**SMALL, "use_prior": False}}, {"image_discriminator"}, {"l1", "g_img"}),
        (
            {"net": {**SMALL, "use_ftm": False}},
            {"image_discriminator", "feature_discriminator", "prior_loss"},
            {"l1", "prior", "g_feat", "g_img"},
        ),
        ({"feature_discriminator": False}, {"image_discriminator", "prior_loss"}, {"l1", "prior", "g_img"}),
        (
            {"image_discriminator": False, "feature_discriminator": False, "learn_prior_weights": False},
            set(),
            {"l1", "prior"},
        ),
    ],
)
def test_ablation_switches_train(options, discriminators, logs):
    task = _task(**options)
    assert set(task.discriminator_modules) == discriminators
    g_loss, g_logs, _ = _gan_step(task, _batch())
    assert torch.isfinite(g_loss)
    assert set(g_logs) == logs
    assert ("discriminator" in task.build_optimizers(task.models)) == bool(discriminators)


def test_task_options_are_checked():
    from facedeblur.config import ConfigError
    from facedeblur.train.tasks.dfpgnet import DFPGnetTask

    with pytest.raises(ConfigError, match="options.bogus"):
        DFPGnetTask.parse_options({"bogus": 1})
    with pytest.raises(ConfigError, match="prior_channels"):
        DFPGnetTask.parse_options({"net": {"prior_channels": [1, 2, 3]}})
    with pytest.raises(ConfigError, match="prior_layers"):
        DFPGnetTask.parse_options({"prior_layers": [3, 2, 1]})
    opts = DFPGnetTask.parse_options({"prior_layers": [0, 2, 4]})
    assert tuple(opts.net.prior_channels) == (32, 64, 256)


def test_generator_config_rebuilds_the_generator():
    task = _task()
    rebuilt = build_model(task.architecture, **task.generator_config())
    rebuilt.load_state_dict(task.models["generator"].state_dict())


def test_random_windows_crop_images_and_priors_alike():
    from facedeblur.train.tasks.dfpgnet import random_windows

    size = 32
    gt = torch.arange(2 * 3 * size * size, dtype=torch.float32).view(2, 3, size, size)
    # prior level l holds the image subsampled by 2**l, so a matching crop is a subsampled window
    priors = [gt[:, :, :: 2**level, :: 2**level].clone() for level in range(3)]
    lq_c, gt_c, pri_c = random_windows(gt + 1, gt, priors, 16, torch.Generator().manual_seed(3))
    assert lq_c.shape == gt_c.shape == (2, 3, 16, 16)
    assert torch.equal(lq_c, gt_c + 1)
    for level, p in enumerate(pri_c):
        assert torch.equal(p, gt_c[:, :, :: 2**level, :: 2**level])
    with pytest.raises(ValueError, match="multiple of 4"):
        random_windows(gt, gt, None, 18, torch.Generator())


def test_gan_step_on_windows():
    task = _task(crop=32)
    g_loss, g_logs, d_logs = _gan_step(task, _batch(size=64))
    assert torch.isfinite(g_loss) and {"prior", "g_feat", "g_img"} <= set(g_logs)
    assert {"d_img", "d_feat", "prior_w"} == set(d_logs)


@pytest.mark.slow
def test_smoke_recipe_trains_through_the_engine(utkface_train, tmp_path):
    from facedeblur.train.config import load_recipe
    from facedeblur.train.engine import train

    recipe = load_recipe(
        CONFIG_DIRS[0] / "dfpgnet-smoke.yaml",
        [
            f"data.train={utkface_train}",
            f"data.val={utkface_train}",
            "engine.steps=2",
            "engine.val_every=2",
            "engine.ckpt_every=2",
        ],
    )
    result = train(recipe, tmp_path / "run")
    assert result.step == 2
    assert {"loss_g", "loss_d", "prior", "g_feat", "g_img", "d_img", "d_feat", "prior_w"} <= set(result.history[-1])
    from facedeblur.train.export import load_source

    model, meta = load_source(str(tmp_path / "run" / "checkpoints" / "last.ckpt"), name="dfpgnet")
    assert meta.architecture == "dfpgnet" and meta.config["width"] == 4
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_bundled_weights_load_and_restore():
    from facedeblur.models.hub import bundled_models, load_weights

    if "dfpgnet" not in bundled_models():
        pytest.skip("dfpgnet weights not bundled in this checkout")
    model, meta = load_weights(bundled_models()["dfpgnet"], architecture="dfpgnet")
    assert meta.trained_on == "cpu" and "CPU run" in meta.notes and meta.face_size == 128
    assert "UTKFace" in meta.data_license
    lq = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        out = model(lq)
    assert out.shape == lq.shape and torch.isfinite(out).all()
