"""Smoke tests of examples/detect_digits.py, examples/box_regression.py (real MNIST from the repository's data/mnist)
and examples/batch_size_schedule.py (Fashion-MNIST from ../shared/data, skipped where absent): each runs end to end
with tiny settings, and its printed and returned results are checked. A few seconds each."""

import re

import numpy as np
import pytest

from tests.data import REPOSITORY_DATA, SHARED, needs_fashion
from tests.test_examples import load

TINY_BACKBONE = ["--data-dir", str(REPOSITORY_DATA), "--pretrain-subset", "300", "--pretrain-epochs", "1"]


def test_detect_digits_trains_evaluates_and_draws(tmp_path, capsys):
    detect_digits = load("detect_digits")
    backbone, picture = tmp_path / "backbone.npz", tmp_path / "detections.png"
    argv = [*TINY_BACKBONE, "--backbone", str(backbone), "--canvases", "32", "--epochs", "1", "--batch-size", "16",
            "--test-canvases", "20", "--out", str(picture)]  # fmt: skip
    result = detect_digits.main(argv)
    out = capsys.readouterr().out
    assert set(result) == {"map_50", "coco_map", "seconds"}
    assert 0 <= result["coco_map"] <= result["map_50"] <= 1
    assert backbone.is_file() and picture.stat().st_size > 10_000
    assert "heads on the 12x12, 6x6 maps, 720 default boxes" in out and "saved to" in out
    shown = re.search(r"mAP@0\.5 ([\d.]+) \(VOC, all-point\), COCO mAP@\[\.5:\.95\] ([\d.]+)", out)
    assert float(shown[1]) == pytest.approx(result["map_50"], abs=5e-4)
    again = detect_digits.main(argv)  # the backbone is loaded now: the same detector, the same figures
    assert "loaded from" in capsys.readouterr().out
    assert again["map_50"] == result["map_50"] and again["coco_map"] == result["coco_map"]


def test_box_regression_compares_fine_tuned_and_scratch(capsys):
    box_regression = load("box_regression")
    argv = [*TINY_BACKBONE, "--canvases", "64", "--epochs", "1", "--batch-size", "16", "--test-canvases", "40"]
    results = box_regression.main(argv)
    out = capsys.readouterr().out
    assert set(results) == {"finetuned", "scratch"}
    for r in results.values():
        assert 0 <= r["iou75"] <= r["iou50"] <= 1 and 0 <= r["mean_iou"] <= 1
    assert "new output layer Linear(in_features=4096, out_features=4, bias=True)" in out
    lines = re.findall(r"^ +(fine-tuned|from scratch) +mean IoU ([\d.]+)", out, flags=re.M)
    assert [name for name, _ in lines] == ["fine-tuned", "from scratch"]
    assert float(lines[0][1]) == pytest.approx(results["finetuned"]["mean_iou"], abs=5e-4)


@needs_fashion
def test_batch_size_schedule_runs_both_arms(tmp_path, capsys):
    schedule = load("batch_size_schedule")
    picture = tmp_path / "curves.png"
    results = schedule.main(["--data-dir", str(SHARED), "--subset", "600", "--epochs", "3", "--milestones", "1", "2",
                             "--factor", "2", "--batch-size", "50", "--out", str(picture)])  # fmt: skip
    out = capsys.readouterr().out
    # 600 images: 12 batches of 50 per epoch with the learning-rate decay; 12, 6 and 3 with the batch growing.
    assert results["lr_decay"]["updates"] == 36 and results["batch_increase"]["updates"] == 21
    assert "BatchSizeScheduler: batch size 50 -> 100" in out and "batch size 100 -> 200" in out
    assert all(0 <= r["accuracy"] <= 1 for r in results.values()) and picture.stat().st_size > 10_000
    lrs = np.array(results["lr_decay"]["history"].lr)
    np.testing.assert_allclose(lrs, [0.05, 0.025, 0.0125])  # the lr each epoch trained with
    assert np.allclose(results["batch_increase"]["history"].lr, 0.05)
