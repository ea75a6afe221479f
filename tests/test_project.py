"""The project around the code: README's commands, CI, and the examples."""

import importlib.util
import re
from pathlib import Path

import pytest

from tests.data import MNIST_DIR

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands_module():
    spec = importlib.util.spec_from_file_location("readme_commands", ROOT / ".ci" / "readme_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ci_runs_the_readme_setup_commands_in_order():
    """.ci/run runs what README's set-up section says, in order: the main job first, then the tests."""
    commands = _readme_commands_module().setup_commands((ROOT / "README.md").read_text())
    assert commands == [
        "pip install . && python examples/lenet_mnist.py",
        'pip install -e ".[dev,reference]" && pytest',
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 .ci/readme_commands.py README.md" in ci
    assert '"${commands[0]}"' in ci and '"${commands[1]}"' in ci
    assert ci.index('"${commands[0]}"') < ci.index('"${commands[1]}"')
    assert "python3 -m venv" in ci  # a fresh environment


def test_readme_commands_come_from_the_setup_section_only():
    parse = _readme_commands_module().setup_commands
    readme = (
        "# x\n```bash\nnot this\n```\n## Set up\ntext\n```bash\na && b\n```\nmore\n```bash\nc\n```\n"
        "## Next\n```bash\nd\n```\n"
    )
    assert parse(readme) == ["a && b", "c"]
    with pytest.raises(ValueError, match="no .## Set up. section"):
        parse("# nothing\n")


def test_declared_numpy_is_one_the_code_runs_on():
    """The code relies on NumPy 2's copy= semantics (np.array/asarray) and is built against NumPy 2; Numba supports
    NumPy 2 from 0.60 on."""
    text = (ROOT / "pyproject.toml").read_text()
    floors = dict(re.findall(r'"(numpy|numba)>=([\d.]+)"', text.split("[project]")[1]))
    assert tuple(map(int, floors["numpy"].split("."))) >= (2, 0)
    assert tuple(map(int, floors["numba"].split("."))) >= (0, 60)
    assert '"numpy>=2.0"' in text.split("[project]")[0]  # the build requirement agrees


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
