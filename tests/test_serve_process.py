"""``gitstore serve`` as a real process on 127.0.0.1: ``/events`` resumed with
``Last-Event-ID`` after a restart loses nothing — the commits written while the server
was down arrive, exactly those, in order — and the command's one-line errors.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import git, requires_git
from test_serve_api import SSEReader, make_token, new_commits

GITSTORE = str(Path(sys.executable).parent / "gitstore")
SERVING = re.compile(r"gitstore: serving .* on http://127\.0\.0\.1:(\d+)/")


class ServerProcess:
    """``gitstore -C PATH --no-fsync serve --port PORT`` in a subprocess.

    Waits (at most 60 s) until the line saying where it listens is printed and the
    API answers; its stderr is kept in ``log``.
    """

    def __init__(self, path: Path, port: int = 0):
        self.log: list[str] = []
        self.proc = subprocess.Popen(
            [GITSTORE, "-C", str(path), "--no-fsync", "serve", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.bound = threading.Event()
        self.port = 0
        threading.Thread(target=self._drain, daemon=True).start()
        assert self.bound.wait(60), f"no 'serving' line: {self.log}"
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/openapi.json", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, f"the server did not answer: {self.log}"
            time.sleep(0.05)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))
            found = SERVING.search(line)
            if found:
                self.port = int(found.group(1))
                self.bound.set()
        self.bound.set()

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; returns the exit status."""
        self.proc.terminate()
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the server did not stop on SIGTERM: {self.log}") from None


def add_message(gs, text: str) -> None:
    result = gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", text, actor="alice")
    assert result.exit_code == 0, result.output


@requires_git
@pytest.mark.slow
def test_events_resumed_after_a_restart_lose_nothing(gs):
    assert gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme", actor="alice").exit_code == 0
    token = make_token(gs, "alice")
    path = gs.path
    start = git(path, "rev-parse", "HEAD").strip()

    first = ServerProcess(path)
    reader = SSEReader(f"{first.url}/events", token, last_event_id=start)
    assert reader.status == 200
    add_message(gs, "before the restart 1")  # another process writes: the server polls the branch
    (path / "notes.txt").write_text("a plain git commit\n")
    git(path, "add", "notes.txt")
    git(path, "commit", "-q", "-m", "notes, by plain git")
    seen = reader.take(2)
    assert [e["id"] for e in seen] == new_commits(path, start)
    assert [e["data"]["type"] for e in seen] == ["ticket.updated", "store.updated"]
    last = seen[-1]["id"]
    assert first.stop() in (0, -15)  # uvicorn re-raises SIGTERM after a clean shutdown

    for n in range(3):  # written while no server runs
        add_message(gs, f"while down {n}")
    missed = new_commits(path, last)
    assert len(missed) == 3

    second = ServerProcess(path, port=first.port)  # the same address: a client reconnects where it was
    try:
        resumed = SSEReader(f"{second.url}/events", token, last_event_id=last)
        got = resumed.take(3)
        assert [e["id"] for e in got] == missed
        assert [e["data"]["summary"] for e in got] == ["Add external message to ticket 1001"] * 3
        add_message(gs, "after the restart")
        (live,) = resumed.take(1)  # the next one is the new commit: nothing repeated, nothing extra
        assert live["id"] == git(path, "rev-parse", "HEAD").strip()
        by_query = SSEReader(f"{second.url}/events?last_event_id={last}", token)
        assert [e["id"] for e in by_query.take(4)] == missed + [live["id"]]
        unknown = httpx.get(f"{second.url}/events", headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "f" * 40},
                            timeout=10)
        assert unknown.status_code == 404 and unknown.json()["type"] == "urn:gitstore:error:RevisionNotFound"
    finally:
        assert second.stop() in (0, -15)
    assert not any("Traceback" in line for line in first.log + second.log), first.log + second.log


def test_serve_refuses_a_folder_that_is_not_a_store_in_one_line(gs, tmp_path):
    result = gs("-C", str(tmp_path), "serve", "--port", "0", init=False)
    assert result.exit_code == 1 and result.output.startswith("Error: not a gitstore store"), result.output
    assert result.output.count("\n") == 1


def test_serve_on_a_port_in_use_is_one_line(gs):
    assert gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = gs("serve", "--port", str(taken.getsockname()[1]))
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "in use" in result.output, result.output
    assert "Traceback" not in result.output


def test_serve_help_has_an_example(gs):
    result = gs("serve", "--help")
    assert result.exit_code == 0 and "Example:" in result.output and "127.0.0.1" in result.output


def test_accepted_connections_do_not_wait_for_delayed_acks():
    """The listening socket sets TCP_NODELAY, which accepted connections inherit."""
    import socket

    from gitstore_serve.app import listening_socket

    server = listening_socket("127.0.0.1", 0)
    try:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            accepted.close()
            client.close()
    finally:
        server.close()
