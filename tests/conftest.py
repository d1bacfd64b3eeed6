"""Shared fixtures. Tests never touch the developer's git config or home folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def isolated_git_env(tmp_path_factory, monkeypatch):
    """Clear HOME, GIT_* and pygit2's config search path so no user config leaks in."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("GIT_") or name.startswith("GITSTORE_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "test")  # only for plain git commands in tests
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.invalid")
    saved = {}
    for level in (pygit2.enums.ConfigLevel.GLOBAL, pygit2.enums.ConfigLevel.XDG, pygit2.enums.ConfigLevel.SYSTEM):
        saved[level] = pygit2.settings.search_path[level]
        pygit2.settings.search_path[level] = str(home)
    yield home
    for level, value in saved.items():
        pygit2.settings.search_path[level] = value


@pytest.fixture
def store(tmp_path):
    """A fresh store with fsync off (tests do not need durability across power loss)."""
    from gitstore import Store

    s = Store.init(tmp_path / "store", fsync=False)
    yield s
    s.close()


@pytest.fixture
def runner():
    """A click CliRunner for the gitstore CLI."""
    return CliRunner()


@pytest.fixture
def gs(runner, tmp_path):
    """Run ``gitstore -C <store> --no-fsync --actor tester ARGS…`` and return the result.

    The store is created on first use at ``tmp_path/cli-store``.
    """
    from gitstore_cli.main import cli

    path = tmp_path / "cli-store"

    def invoke(*args, input=None, actor="tester", init=True):
        if init and not path.exists():
            result = runner.invoke(cli, ["--no-fsync", "init", str(path)])
            assert result.exit_code == 0, result.output
        base = ["-C", str(path), "--no-fsync"] + (["--actor", actor] if actor else [])
        return runner.invoke(cli, base + list(args), input=input)

    invoke.path = path
    return invoke


def git(path, *args, check=True) -> str:
    """Run the real git binary in ``path`` and return its stdout."""
    proc = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def import_json(gs, kind: str, *args, exit_code: int = 0) -> dict:
    """Run ``gitstore import KIND ARGS… --json`` through the ``gs`` fixture; return the summary.

    ``exit_code``: the one expected (0 everything imported, 3 records skipped).
    """
    result = gs("import", kind, *args, "--json")
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def read_all(path) -> dict:
    """Return ``{T_NO: TicketFiles}`` of every ticket of the store at ``path``."""
    from gitstore import Store

    with Store.open(path, fsync=False) as store:
        return {t_no: store.read(t_no) for t_no in store.list_tickets()}


def internal_messages(path) -> dict[str, tuple[str, dict]]:
    """Return ``{message_id: (T_NO, message as JSON)}`` of every internal message."""
    return {
        message.message_id: (t_no, message.model_dump(mode="json"))
        for t_no, files in read_all(path).items()
        for message in files.internal.messages
    }


def shared_or_skip(*parts: str) -> Path:
    """Return a path under ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (a fresh clone has no ../shared/): full data set test")
    return path


requires_git = pytest.mark.skipif(shutil.which("git") is None, reason="the git binary is not installed")
