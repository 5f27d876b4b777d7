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
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(net.parse(x), labels)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.7 * first


def test_bad_inputs_are_refused_with_messages():
    net = build_parsenet(**TINY)
    with pytest.raises(ValueError, match="square"):
        net(torch.rand(1, 3, 32, 16))
    with pytest.raises(ValueError, match="RGB"):
        net(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="power of two"):
        build_parsenet(size=100)


def test_other_input_sizes_are_parsed_at_the_network_size_and_returned_at_theirs():
    net = build_parsenet(**TINY).eval()
    x = torch.rand(1, 3, 64, 64)
    logits, image = net.forward_both(x)
    assert logits.shape == (1, 10, 64, 64) and image.shape == (1, 3, 64, 64)
    small = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", antialias=True)
    with torch.no_grad():
        direct = net.parse(small)
        up = torch.nn.functional.interpolate(direct, size=(64, 64), mode="bilinear", align_corners=False)
        torch.testing.assert_close(net.parse(x), up)


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


def test_training_task_reads_labels_and_flips_them(tmp_path):
    from facedeblur.face.parsing import flip_parsing_map
    from facedeblur.images import write_image
    from facedeblur.train.config import DataConfig
    from facedeblur.train.tasks.parsenet import IGNORE_LABEL, ParseNetTask

    rng = np.random.default_rng(0)
    faces = tmp_path / "faces"
    labels = tmp_path / "labels"
    img = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    write_image(faces / "a.png", img)
    lab = np.zeros((32, 32), np.uint8)
    lab[4:12, 2:10] = 4  # a "left eye" on the image's left side
    write_image(labels / "a.png", lab[:, :, None])

    options = ParseNetTask.parse_options({"net": {**TINY, "size": 16}, "labels": str(labels), "restore_fraction": 0.5})
    task = ParseNetTask(options, DataConfig(size=32))
    task.models = task.build_models()
    gt = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
    paths = [str(faces / "a.png"), str(faces / "a.png"), str(faces / "missing.png")]
    batch_gt = torch.cat([gt, gt.flip(-1), gt])
    target = task.labels.batch(paths, torch.device("cpu"), batch_gt)
    small = np.asarray(target[0])
    assert small.shape == (32, 32) and (small == 4).any()
    np.testing.assert_array_equal(np.asarray(target[1]), flip_parsing_map(small.astype(np.uint8)))
    assert (target[2] == IGNORE_LABEL).all()

    batch = {"lq": batch_gt.clone(), "gt": batch_gt, "path": paths}
    loss, logs = task.generator_step(batch, 0)
    loss.backward()
    assert {"ce", "l1", "pixel_acc"} <= set(logs)
    assert task.restore(task.models["generator"], batch["lq"]).shape == (3, 3, 32, 32)
