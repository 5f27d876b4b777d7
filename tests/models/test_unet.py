"""The default restorer's architectures: the multi-scale U-Net (dense and NAFNet blocks, both stems) and the
physics-guided Wiener U-Net; shapes, gradients, identity start, Wiener deconvolution, ONNX-friendly forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facedeblur.losses import frequency_loss
from facedeblur.models.registry import build_model
from facedeblur.models.unet import RestorationUNet, build_unet
from facedeblur.models.wiener import build_wiener_unet, kernel_to_otf, wiener_deconvolve_torch

SMALL = {"width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}


@pytest.mark.parametrize("block", ["res", "naf"])
@pytest.mark.parametrize("stem", ["conv", "unshuffle"])
def test_shapes_identity_start_and_gradients(block, stem):
    torch.manual_seed(0)
    net = build_unet(**SMALL, block=block, stem=stem)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(net.eval()(x), x)  # zero-initialised ending: the untrained net is the identity
    assert net(torch.rand(1, 3, 30, 22)).shape == (1, 3, 30, 22)  # sizes that are not multiples are padded
    net.train()
    for p in net.parameters():  # leave the identity start so every gradient is non-zero
        torch.nn.init.normal_(p, std=0.1)
    out = net(x)
    (out - torch.rand_like(x)).abs().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_receptive_field_covers_the_whole_face():
    torch.manual_seed(0)
    net = build_unet(width=4, enc_blocks=[1, 1, 1], middle_blocks=1, dec_blocks=[1, 1, 1], stem="unshuffle").eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.2)
    x = torch.rand(1, 3, 128, 128, requires_grad=True)
    net(x)[0, :, 64, 64].sum().backward()
    reach = (x.grad.abs().sum(1)[0] > 0).nonzero()
    span = (reach.max(0).values - reach.min(0).values + 1).tolist()
    assert min(span) >= 100, span  # a 31 px blur anywhere on the face is within sight of every pixel


def test_gradcheck_in_double_precision():
    torch.manual_seed(0)
    net = build_unet(width=2, enc_blocks=[1], middle_blocks=1, dec_blocks=[1], block="naf").double()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.rand(1, 3, 4, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_bad_configs_and_inputs_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="equal length"):
        build_unet(width=4, enc_blocks=[1, 1], dec_blocks=[1])
    with pytest.raises(ValueError, match="block must be"):
        build_unet(block="dense")
    with pytest.raises(TypeError, match="depth"):
        build_unet(depth=3)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        build_unet(**SMALL)(torch.rand(3, 32, 32))
    assert isinstance(build_model("unet", **SMALL), RestorationUNet)


def test_wiener_deconvolution_inverts_a_known_blur():
    from facedeblur.degrade.kernels import shake_kernel
    from facedeblur.degrade.ops import blur_torch

    rng = np.random.default_rng(0)
    sharp = torch.rand(2, 3, 64, 64)
    smooth = torch.nn.functional.avg_pool2d(sharp, 5, 1, 2)  # image-like spectrum
    kernels = torch.from_numpy(np.stack([shake_kernel(13, rng), shake_kernel(13, rng)]))
    blurred = blur_torch(smooth, kernels)
    restored = wiener_deconvolve_torch(blurred, kernels, 1e-2)
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))
    err_blur = (blurred - smooth)[inner].abs().mean()
    err_wiener = (restored - smooth)[inner].abs().mean()
    assert err_wiener < 0.6 * err_blur, (float(err_wiener), float(err_blur))
    assert kernel_to_otf(kernels, 64, 64).shape == (2, 64, 33)
    with pytest.raises(ValueError, match="odd K"):
        kernel_to_otf(torch.ones(1, 4, 4), 8, 8)


def test_wiener_unet_estimates_normalised_kernels_and_trains_end_to_end():
    torch.manual_seed(0)
    net = build_wiener_unet(kernel_size=7, estimator_width=4, refine=SMALL)
    x = torch.rand(2, 3, 32, 32)
    restored, kernel = net(x, return_kernel=True)
    assert restored.shape == x.shape and kernel.shape == (2, 7, 7)
    assert torch.allclose(kernel.sum((1, 2)), torch.ones(2), atol=1e-5) and (kernel >= 0).all()
    assert int(kernel[0].argmax()) == 24  # starts near the delta kernel (identity blur)
    loss = (restored - x.flip(-1)).abs().mean() + (kernel - 1 / 49).abs().sum()
    loss.backward()
    assert net.estimator.kernel_logits.weight.grad.abs().sum() > 0
    assert net.refine.ending.weight.grad.abs().sum() > 0  # the zero-initialised ending learns first
    with pytest.raises(ValueError, match="in_channels is fixed"):
        build_wiener_unet(refine={"in_channels": 3})


def test_frequency_loss_sees_missing_detail_a_blur_removes():
    sharp = torch.rand(1, 3, 32, 32)
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, 1, 1)
    assert float(frequency_loss(sharp, sharp)) == 0.0
    assert float(frequency_loss(blurred, sharp)) > 0.01
    with pytest.raises(ValueError, match="differ in shape"):
        frequency_loss(sharp, sharp[..., :16])
