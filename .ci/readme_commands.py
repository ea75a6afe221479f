"""Print the set-up commands of README.md's "## Set up" section, one per line, in order: the contents of its
```bash blocks. .ci/run runs exactly these, so CI fails whenever the README's promise breaks."""

import re
import sys
from pathlib import Path


def setup_commands(readme: str) -> list[str]:
    """The one-line commands of the ```bash blocks between "## Set up" and the next "## " heading."""
    match = re.search(r"^## Set up\n(.*?)(?=^## |\Z)", readme, flags=re.M | re.S)
    if match is None:
        raise ValueError('README.md has no "## Set up" section')
    blocks = re.findall(r"^```bash\n(.*?)^```", match.group(1), flags=re.M | re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    if not commands:
        raise ValueError('README.md\'s "## Set up" section has no ```bash block')
    return commands


if __name__ == "__main__":
    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md").read_text(encoding="utf-8")
    print("\n".join(setup_commands(readme)))
