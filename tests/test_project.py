"""The project around the code: README's commands, CI, and the examples."""

import importlib.util
import re
from pathlib import Path

from tests.data import MNIST_DIR

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    test_command = next(c for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci, f"{test_command!r} is not a line of .ci/run"
    assert "pip install . && python examples/lenet_mnist.py" in commands


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_trains_to_high_held_out_accuracy(capsys):
    accuracy = _example("demo_mlp").main(["--epochs", "150"])
    assert accuracy >= 0.95
    assert "test accuracy" in capsys.readouterr().out


def test_readme_python_examples_run():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.+?)```", readme, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block.replace("    ...", "    pass"), "README.md", "exec"), {})


def test_lenet_example_trains_and_writes_its_checkpoints_and_curves(tmp_path, capsys):
    """The main job on 3,200 real MNIST images for one epoch (the full run is quoted in README.md)."""
    argv = ["--data-dir", str(MNIST_DIR), "--epochs", "1", "--train-subset", "3200", "--out", str(tmp_path),
            "--no-progress"]  # fmt: skip
    accuracy = _example("lenet_mnist").main(argv)
    assert accuracy > 0.8
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "Test accuracy" in out
    assert (tmp_path / "checkpoints" / "best.npz").is_file() and (tmp_path / "curves.png").is_file()
