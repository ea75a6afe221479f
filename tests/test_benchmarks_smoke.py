"""The ``models`` and ``training`` benchmark suites run end to end at tiny sizes and report sensible records.

Nothing here judges a timing: the checks are that each suite runs, pairs minidl with the same PyTorch network
(same weights: equal outputs, equal losses), and writes its table and JSON.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from benchmarks import models as model_bench
from benchmarks import training as training_bench
from benchmarks.timing import THREAD_VARIABLES
from tests.data import MNIST_DIR

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_every_model_has_a_benchmark_spec():
    from minidl.models import list_models

    assert set(model_bench.SPECS) == set(list_models())
    assert model_bench.select(None) == list_models()
    assert model_bench.select("resnet18, lenet5") == ["lenet5", "resnet18"]  # list_models() order
    with pytest.raises(ValueError, match="unknown"):
        model_bench.select("lenet5,resnet7")


@pytest.mark.parametrize("name", ["lenet5", "mobilenet_v1", "googlenet"])
def test_twin_holds_the_same_weights_and_computes_the_same_function(name):
    ours, theirs, _ = model_bench.build_pair(model_bench.SPECS[name])
    case = model_bench.time_case(ours, theirs, model_bench.SPECS[name].input_shape, batch=2, repeat=1)
    assert case["max_rel_diff"] < 1e-4
    assert case["minidl"]["runs"] >= 1 and case["torch"]["median_s"] > 0


def test_models_suite_runs_and_reports_both_batch_sizes():
    text, data = model_bench.run(repeat=1, models="lenet5", fresh=False)
    (record,) = data["models"]
    assert record["model"] == "lenet5" and record["parameters"] == 61_706
    assert [case["batch"] for case in record["cases"]] == [1, 32]
    assert "| lenet5 | 1×28×28 |" in text and record["algorithms"] == "im2col 2"


def test_models_suite_times_training_steps_from_the_same_weights_and_lists_algorithms():
    text, data = model_bench.run(repeat=1, models="lenet5,mobilenet_v1", batch_size=3, mode="train")
    lenet, mobilenet = data["models"]
    assert data["mode"] == "train" and [case["batch"] for case in lenet["cases"]] == [3]
    for record in (lenet, mobilenet):
        (case,) = record["cases"]
        assert case["max_rel_diff"] < 1e-5  # the first step's losses (dropout off for that step)
        assert case["minidl"]["median_s"] > 0 < case["torch"]["median_s"]
    assert lenet["cases"][0]["gradient_rel_diff"] < 1e-4
    # Batch norm over 3 images on small maps amplifies float32 rounding in both libraries (see the suite's notes):
    # the bound only catches a wrong pairing of gradients, which would give differences of order 1.
    assert mobilenet["cases"][0]["gradient_rel_diff"] < 0.1
    assert lenet["algorithms"] == "im2col 2"
    assert {layer["algorithm"] for layer in mobilenet["conv_layers"]} >= {"depthwise", "im2col"}
    assert "| lenet5 | 1×28×28 | 0.06 M | 3 |" in text and "conv algorithms" in text
    with pytest.raises(ValueError, match="mode"):
        model_bench.run(repeat=1, models="lenet5", mode="backward")


def test_fresh_process_first_call_reports_its_parts():
    result = model_bench.fresh_process_first_call(model_bench.SPECS["lenet5"])
    assert set(result) == {"import_s", "build_s", "first_call_s", "second_call_s"}
    assert all(v > 0 for v in result.values())


def test_training_suite_runs_a_few_batches_on_both_sides_alike():
    text, data = training_bench.run(repeat=1, epochs_fraction=0.004, batch_size=32, root=MNIST_DIR, profile=True)
    assert data["batches_timed_per_epoch"] == 8 and data["batches_per_epoch"] == 1875
    for side in ("minidl", "torch"):
        result = data["results"][side]
        assert result["images_timed_per_epoch"] == 8 * 32 and len(result["samples_s"]) == 2
        assert result["epoch_s"] > 0
    # Same weights, same batches, same optimizer: the two libraries' losses track each other.
    np.testing.assert_allclose(
        data["results"]["minidl"]["mean_loss_per_epoch"], data["results"]["torch"]["mean_loss_per_epoch"], rtol=1e-3
    )
    assert "cProfile" in text and data["profile"]


def test_cli_writes_markdown_and_json(tmp_path, monkeypatch):
    from benchmarks.__main__ import main

    for name in (*THREAD_VARIABLES, "OMP_WAIT_POLICY"):  # main() pins them: restore them (or their absence)
        monkeypatch.setenv(name, os.environ.get(name, ""))
        if not os.environ[name]:
            monkeypatch.delenv(name)
    main(["models", "--models", "lenet5", "--repeat", "1", "--no-fresh", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "models-1t.json").read_text())
    assert data["threads"] == 1 and data["models"][0]["model"] == "lenet5"
    assert (tmp_path / "models-1t.md").read_text().startswith("# models — 1 thread")


def test_training_worker_failure_is_reported_with_its_error(tmp_path):
    with pytest.raises(RuntimeError, match="minidl training worker exited"):
        training_bench.run(repeat=1, epochs_fraction=0.001, root=tmp_path)  # no MNIST files there


def test_steps_suite_lists_each_layers_algorithm_and_steps_alike():
    """The training-step benchmark pairs the same ResNet-18 on both sides (equal losses on its batch) and lists the
    algorithm minidl picks per convolution (Winograd F(4×4) for the stride-1 3×3 layers on 8×8 maps and larger, im2col
    for the stem and the 4×4 stage, the 1×1 GEMM for the downsample shortcuts)."""
    import torch

    import minidl
    from benchmarks import steps
    ours, theirs, _ = model_bench.build_pair(steps.STEP_SPECS["resnet18"])
    layers = steps.conv_layers(ours, batch=2)
    assert sum(layer["count"] for layer in layers) == 20  # 17 3×3, 3 1×1 downsample convolutions
    by_shape = {(layer["input"][1:], layer["out_channels"], layer["kernel"]): layer["algorithm"] for layer in layers}
    assert by_shape[((64, 32, 32), 64, (3, 3))] == "winograd4"  # see minidl.backend.cpu.WINOGRAD
    assert by_shape[((256, 8, 8), 256, (3, 3))] == "winograd4"
    assert by_shape[((512, 4, 4), 512, (3, 3))] == "im2col wide"
    assert by_shape[((3, 32, 32), 64, (3, 3))] == "im2col"  # three input channels: Winograd does not pay
    assert by_shape[((128, 16, 16), 256, (1, 1))] == "pointwise"
    x, y = steps._batch(batch=4)
    ours.train()
    theirs.train()
    loss = minidl.nn.CrossEntropyLoss()(ours(minidl.tensor(x)), minidl.tensor(y)).item()
    expected = torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(x)), torch.from_numpy(y)).item()
    assert abs(loss - expected) < 1e-4 * abs(expected)
    runners = steps._step_runners(ours, theirs, batch=2)
    runners["minidl"]()
    runners["torch"]()
