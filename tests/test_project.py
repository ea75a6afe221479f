"""The project around the code: README's commands, CI, and the demo example."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    test_command = next(c for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci, f"{test_command!r} is not a line of .ci/run"
    assert any(c.startswith("pip install . && python examples/") for c in commands)


def test_demo_trains_to_high_held_out_accuracy(capsys):
    spec = importlib.util.spec_from_file_location("demo_mlp", ROOT / "examples" / "demo_mlp.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    accuracy = demo.main(["--epochs", "150"])
    assert accuracy >= 0.95
    assert "test accuracy" in capsys.readouterr().out


def test_readme_python_examples_run():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.+?)```", readme, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block.replace("    ...", "    pass"), "README.md", "exec"), {})
