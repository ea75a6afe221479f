"""Smoke tests of examples/finetune.py and examples/classic_cnns.py: each runs end to end on a few real MNIST
(the repository's data/mnist) / Fashion-MNIST images (from ../shared/data, skipped where absent) with tiny settings,
and its printed and returned results are checked. A few seconds in all."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minidl
from minidl.models import list_models
from tests.data import REPOSITORY_DATA, SHARED, needs_fashion

ROOT = Path(__file__).resolve().parent.parent


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def finetune():
    return load("finetune")


@pytest.fixture(scope="module")
def classic_cnns():
    return load("classic_cnns")


# ------------------------------------------------------------------------------------------------ finetune
TINY = ["--data-dir", str(REPOSITORY_DATA), "--pretrain-subset", "1000", "--pretrain-epochs", "1",
        "--test-subset", "1000", "--finetune-epochs", "4", "--frozen-epochs", "1", "--batch-size", "5"]  # fmt: skip


def test_finetune_compares_with_scratch_and_repeats_under_its_seed(finetune, capsys):
    results = finetune.main([*TINY, "--per-class", "3", "10"])
    out = capsys.readouterr().out
    assert [r["per_class"] for r in results] == [3, 10]
    for r in results:
        assert 0 <= r["scratch"] <= 1 and 0.3 < r["finetuned"] <= 1  # 5 classes: chance is 0.2
        assert r["gain"] == pytest.approx(100 * (r["finetuned"] - r["scratch"]))
    lines = re.findall(r"^ *(\d+) per class   from scratch: ([\d.]+)%  fine-tuned: ([\d.]+)%  \(([+-][\d.]+) points\)$",
                       out, flags=re.M)  # fmt: skip
    assert [int(line[0]) for line in lines] == [3, 10]
    for line, r in zip(lines, results):
        assert float(line[1]) == pytest.approx(100 * r["scratch"], abs=0.05)
        assert float(line[2]) == pytest.approx(100 * r["finetuned"], abs=0.05)
    for shown in ("forward_features: (1, 1, 28, 28) -> (1, 16, 5, 5)", "reset_classifier(5)", "backbone frozen",
                  "backbone lr 0.002, head lr 0.02"):  # fmt: skip
        assert shown in out
    assert finetune.main([*TINY, "--per-class", "3", "10"]) == results  # deterministic under --seed


def test_finetune_generic_head_split_freezes_all_but_the_output_layer(finetune, capsys):
    results = finetune.main([*TINY, "--per-class", "3", "--head", "last"])
    assert len(results) == 1 and 0 <= results[0]["finetuned"] <= 1
    assert "425 of 61,281 parameters train" in capsys.readouterr().out  # 84 * 5 + 5


def test_finetune_digit_dataset_relabels_and_draws_per_class(finetune):
    class Fake:
        targets = np.repeat(np.arange(10), 20)
        data = np.arange(200 * 28 * 28, dtype=np.int64).reshape(200, 28, 28).astype(np.uint8)

    ds = finetune.digit_dataset(Fake(), (5, 6, 7, 8, 9), per_class=4, seed=1)
    images, labels = ds.arrays
    assert images.shape == (20, 1, 28, 28) and images.dtype == np.float32
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
    again = finetune.digit_dataset(Fake(), (5, 6, 7, 8, 9), per_class=4, seed=1)
    assert np.array_equal(again.arrays[0], images)


def test_finetune_rejects_bad_flags(finetune):
    with pytest.raises(SystemExit):
        finetune.parse_args(["--finetune-epochs", "5", "--frozen-epochs", "5"])
    with pytest.raises(SystemExit):
        finetune.parse_args(["--per-class", "0"])
    assert finetune.threads_flag(["--seed", "1", "--threads", "2"]) == 2
    assert finetune.threads_flag(["--threads=3"]) == 3
    assert finetune.threads_flag(["--seed", "4"]) == 1  # the examples' shared default


# -------------------------------------------------------------------------------------------- classic_cnns
@needs_fashion
def test_classic_cnns_trains_and_appends_rows(classic_cnns, tmp_path, capsys):
    table = tmp_path / "runs" / "classic_cnns.md"
    common = ["--epochs", "1", "--data-dir", str(SHARED), "--out", str(table), "--no-progress"]
    lenet = classic_cnns.main(["--model", "lenet5", "--train-subset", "2000", "--test-subset", "500", "--optimizer",
                               "adam", *common])  # fmt: skip
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "test accuracy" in out
    assert lenet["params"] == 61_706 and lenet["train_images"] == 2000 and lenet["test_images"] == 500
    assert 0.3 < lenet["accuracy"] <= 1  # 10 classes: chance is 0.1
    mobile = classic_cnns.main(["--model", "mobilenet_v2", "--train-subset", "64", "--test-subset", "32",
                                "--batch-size", "32", *common])  # fmt: skip
    assert 0 <= mobile["accuracy"] <= 1 and mobile["params"] > 2_000_000

    lines = table.read_text().splitlines()
    rows = [line for line in lines if line.startswith("| ")]
    assert len(rows) == 3  # the header once, then one row per run
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header == list(classic_cnns.COLUMNS)
    cells = [dict(zip(header, (c.strip() for c in row.strip("|").split("|")))) for row in rows[1:]]
    assert [c["model"] for c in cells] == ["lenet5", "mobilenet_v2"]
    assert cells[0]["params"] == "61,706" and cells[0]["train images"] == "2,000"
    assert cells[0]["test accuracy"] == f"{lenet['accuracy']:.2%}"
    assert "adam lr 0.001" in cells[0]["settings"] and "sgd lr 0.01" in cells[1]["settings"]


def test_classic_cnns_knows_how_to_adapt_every_model(classic_cnns):
    for name in list_models():
        assert classic_cnns.family(name) in classic_cnns.ADAPTATIONS
    model, side = classic_cnns.build_model("nin")
    assert side == 28 and model(minidl.zeros((2, 1, 28, 28))).shape == (2, 10)
    assert classic_cnns.human(21_750_608) == "21.8 M" and classic_cnns.human(416_520) == "417 K"


@needs_fashion
def test_classic_cnns_runs_as_a_script_with_pinned_threads(tmp_path):
    out = tmp_path / "table.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "classic_cnns.py"), "--threads", "1", "--train-subset", "256",
         "--test-subset", "128", "--epochs", "1", "--data-dir", str(SHARED), "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 thread" in out.read_text() and "Row appended" in done.stdout


# ------------------------------------------------------------------------------------------- the examples' data
DATA_EXAMPLES = ("lenet_mnist", "finetune", "classic_cnns")


def run_example(name: str, args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """``python examples/<name>.py args`` with ``env`` added to a copy of the environment, $MINIDL_DATA removed."""
    environ = {k: v for k, v in os.environ.items() if k != "MINIDL_DATA"} | env
    command = [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environ, check=False)


def test_examples_agree_on_data_and_thread_flags():
    texts = {name: run_example(name, ["--help"], {}).stdout for name in DATA_EXAMPLES}
    for name, text in texts.items():
        flat = " ".join(text.split())
        assert "--download download the files when none of those folders holds them" in flat, name
        assert "default: off" in flat and "$MINIDL_DATA, ~/.cache/minidl and the repository's data/" in flat, name
        assert "--threads THREADS threads of every thread pool: BLAS, Numba (default 1)" in flat, name


def test_mnist_examples_find_the_repository_copy_with_no_other(tmp_path):
    """An empty user cache and no $MINIDL_DATA: the MNIST examples read data/mnist, offline."""
    data = load("_data")
    environ = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MINIDL_DATA", raising=False)
        for key, value in environ.items():
            patch.setenv(key, value)
        train, test = data.load_splits(minidl.data.datasets.MNIST, None, download=False)
    assert train.root == REPOSITORY_DATA and (len(train), len(test)) == (60000, 10000)


@pytest.mark.parametrize(
    "name, dataset", [("lenet_mnist", "MNIST"), ("finetune", "MNIST"), ("classic_cnns", "FashionMNIST")]
)
def test_missing_data_is_one_line_naming_the_flags(tmp_path, name, dataset):
    done = run_example(name, ["--data-dir", str(tmp_path)], {"HOME": str(tmp_path)})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"{dataset}: no copy of its files in {tmp_path}")
    assert "--download" in done.stderr and "--data-dir" in done.stderr


def test_a_failed_download_says_where_to_put_the_files(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "MINIDL_FASHION_MNIST_MIRRORS": "http://127.0.0.1:9/"}  # fmt: skip
    done = run_example("classic_cnns", ["--download"], env)
    assert done.returncode == 1 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    folder = tmp_path / "cache" / "minidl" / "fashion-mnist"
    assert done.stderr.startswith("FashionMNIST: the download failed")
    assert f"put its files in {folder} by hand" in done.stderr and "--data-dir" in done.stderr


@pytest.mark.parametrize("name", ["lenet_mnist", "classic_cnns"])
def test_a_device_that_cannot_be_used_is_one_line(tmp_path, name):
    done = run_example(name, ["--device", "cuda:3", "--out", str(tmp_path / "out")], {})
    assert done.returncode == 1 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("--device cuda:3: device 'cuda:3' is not available")
