"""The README runs as written: every ```bash and ```python block, in order.

A reader on a fresh clone runs the two set-up commands at the top (the demo, and the
test command: this very suite, so the test leaves both out), then every block in order
in one terminal. This test does the same in a temporary folder that holds what a clone
gives the blocks (``examples/``, and the ``.venv`` the set-up made), with HOME and every
``GIT_*``/``GITSTORE_*`` variable cleared as ``conftest.isolated_git_env`` does, a fake
HOME, and the virtualenv's ``bin`` on PATH. A README command that stops working fails
it, naming the block and its line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import requires_git

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SETUP_COMMANDS = (
    "./examples/demo.sh",
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest",
)
"""The README's two set-up commands, first in its first block (CI runs them itself)."""

FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)


def readme_blocks(text: str) -> list[tuple[str, str, int]]:
    """Return ``(language, code, line number)`` of every fenced block of ``text``."""
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def command_of(line: str) -> str:
    """A README line without its trailing ``# comment`` (a ``#`` inside quotes stays)."""
    return re.sub(r"\s+#\s.*$", "", line).strip()


def runnable(blocks) -> list[tuple[str, str, int]]:
    """The blocks the reader runs after the set-up: bash and python, the first block
    without its two set-up commands."""
    found = []
    for number, (language, code, line) in enumerate(blocks):
        if language not in ("bash", "python"):
            continue
        if number == 0:
            lines = code.splitlines()
            code = "\n".join(lines[len(SETUP_COMMANDS):])
        found.append((language, code, line))
    return found


def test_the_two_set_up_commands_come_first():
    blocks = readme_blocks(README.read_text())
    language, code, _line = blocks[0]
    assert language == "bash"
    first = [command_of(line) for line in code.splitlines() if line.strip()][: len(SETUP_COMMANDS)]
    assert tuple(first) == SETUP_COMMANDS


def test_every_block_is_bash_python_or_plain_text():
    for language, _code, line in readme_blocks(README.read_text()):
        assert language in ("bash", "python", "text"), f"README line {line}: ```{language} blocks are not run by any test"


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a reader's new terminal: no GIT_*/GITSTORE_* variables, a
    fake HOME, the virtualenv on PATH, git's identity for plain git commits only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITSTORE_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_AUTHOR_NAME="Reader",
        GIT_AUTHOR_EMAIL="reader@example.invalid",
        GIT_COMMITTER_NAME="Reader",
        GIT_COMMITTER_EMAIL="reader@example.invalid",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        TERM="dumb",
        LC_ALL="C.UTF-8",
    )
    env.pop("PAGER", None)
    return env


def script_of(blocks) -> str:
    """One bash script: each block behind a marker, bash as written (``set -e``: a failing
    command stops the run), python through the virtualenv's interpreter."""
    parts = ["set -eo pipefail"]
    for number, (language, code, line) in enumerate(blocks, 1):
        parts.append(f"echo '=== README block {number} (line {line})' >&2")
        if language == "bash":
            parts.append(code)
        else:
            parts.append(f"python - <<'README_PYTHON'\n{code}README_PYTHON")
    parts.append("echo '=== README done' >&2")
    return "\n".join(parts) + "\n"


@requires_git
@pytest.mark.slow
def test_every_readme_block_runs_in_order_on_a_fresh_clone(tmp_path):
    blocks = runnable(readme_blocks(README.read_text()))
    assert len(blocks) >= 8
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copytree(ROOT / "examples", clone / "examples")
    (clone / ".venv").symlink_to(Path(sys.prefix))  # what the set-up command made: the virtualenv running this
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.run(
        ["bash", "-c", script_of(blocks)],
        cwd=clone, env=clean_env(home), capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )
    markers = [line for line in proc.stderr.splitlines() if line.startswith("=== README")]
    assert proc.returncode == 0 and markers[-1:] == ["=== README done"], (
        f"stopped in {markers[-1] if markers else 'the first block'} with exit {proc.returncode}:\n"
        f"--- stdout (end)\n{proc.stdout[-3000:]}\n--- stderr (end)\n{proc.stderr[-3000:]}"
    )
    assert "Traceback" not in proc.stderr
