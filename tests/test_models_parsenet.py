"""ParseNet: shapes, output classes, gradients, a learning check, mIoU on a hand-made example."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facedeblur.eval.parsing import confusion_matrix, iou_per_class, mean_iou
from facedeblur.models.parsenet import ParseNetConfig, build_parsenet, labels_to_onehot, logits_to_onehot

TINY = {"size": 32, "base_channels": 4, "min_channels": 4, "max_channels": 8, "min_feat_size": 8, "num_body_blocks": 1}


def test_output_classes_match_face_parsing_classes():
    from facedeblur.face.parsing import PARSING_CLASSES

    net = build_parsenet(**TINY)
    logits, image = net(torch.rand(2, 3, 32, 32), with_parsing=True)
    assert logits.shape == (2, len(PARSING_CLASSES), 32, 32)
    assert image.shape == (2, 3, 32, 32)
    assert net(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)  # restoration-model contract
    assert ParseNetConfig().num_classes == len(PARSING_CLASSES)


def test_gradients_reach_every_parameter():
    net = build_parsenet(**TINY)
    logits, image = net.forward_both(torch.rand(2, 3, 32, 32))
    (logits.mean() + image.mean()).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing


def test_learns_a_fixed_labelling():
    torch.manual_seed(0)
    net = build_parsenet(**TINY)
    x = torch.rand(4, 3, 32, 32)
    labels = (torch.arange(32).view(1, 1, 32) // 4 % 10).expand(4, 32, 32).contiguous()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(net.parse(x), labels)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.7 * first


def test_bad_inputs_are_refused_with_messages():
    net = build_parsenet(**TINY)
    with pytest.raises(ValueError, match="32x32"):
        net(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="RGB"):
        net(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="power of two"):
        build_parsenet(size=100)


def test_onehot_helpers_partition_the_image():
    logits = torch.randn(2, 10, 8, 8)
    onehot = logits_to_onehot(logits)
    assert torch.equal(onehot.sum(1), torch.ones(2, 8, 8))
    assert torch.equal(onehot.argmax(1), logits.argmax(1))
    with pytest.raises(ValueError, match="values"):
        labels_to_onehot(torch.full((1, 2, 2), 10), 10)


def test_miou_on_a_hand_made_example():
    target = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [255, 255, 255, 255]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [2, 2, 0, 2], [1, 1, 1, 1]])
    conf = confusion_matrix(pred, target, 3)
    assert conf.sum() == 12  # the ignored row does not count
    # class 0: TP 3, FP 1 (a 2 predicted 0), FN 1 -> 3/5; class 1: TP 4, FP 1, FN 0 -> 4/5; class 2: 3/4
    np.testing.assert_allclose(iou_per_class(conf), [0.6, 0.8, 0.75])
    assert mean_iou(conf) == pytest.approx((0.6 + 0.8 + 0.75) / 3)
    # a class absent from both prediction and target has no IoU and is left out of the mean
    conf4 = confusion_matrix(pred, target, 4)
    assert np.isnan(iou_per_class(conf4)[3])
    assert mean_iou(conf4) == pytest.approx(mean_iou(conf))
    assert mean_iou(confusion_matrix(target[:3], target[:3], 3)) == 1.0
