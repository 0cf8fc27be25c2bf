"""Child processes that are started, awaited, killed and restarted on purpose.

Local mode and the tests both need "start this server, wait until it answers, kill -9 it, start
it again on the same data" — one implementation, so the demo and the tests behave alike.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from order_contracts import tls


def console_script(name: str, module: str) -> list[str]:
    """The command of one of our console scripts: the installed script (this venv's first, so
    it works without an activated venv), or ``python -m module`` from a bare checkout."""
    script = shutil.which(name) or str(Path(sys.executable).parent / name)
    return [script] if Path(script).exists() else [sys.executable, "-m", module]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = "condition"
) -> None:
    """Poll ``condition`` until it holds; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 1.0, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            return bool(200 <= response.status < 300)
    except (OSError, urllib.error.URLError):
        return False


class ManagedProcess:
    """One child process with its log file; ``start`` again after ``kill`` restarts it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        ready_url: str | None = None,
        cwd: Path | None = None,
    ):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ) | dict(env or {})
        self.ready_url = ready_url
        # An https ready_url is checked against ORDER_CA_BUNDLE of the process's environment.
        https = (ready_url or "").startswith("https:")
        self.ready_context = tls.ssl_context(self.env) if https else None
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, ready_timeout: float = 60.0) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # A new session: Ctrl-C in the terminal reaches us, and we stop children in order.
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        if self.ready_url:
            self.wait_ready(ready_timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        assert self.ready_url is not None

        def ready() -> bool:
            if not self.running():
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode if self.proc else '?'} "
                    f"before it was ready; see {self.log_path}"
                )
            return http_ok(self.ready_url or "", context=self.ready_context)

        wait_until(ready, timeout, what=f"{self.name} at {self.ready_url} (log: {self.log_path})")

    def kill(self) -> None:
        """SIGKILL the whole process group: what a crash looks like to everyone else."""
        if self.running() and self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
