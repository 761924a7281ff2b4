"""Owned subprocesses: started on a known port, waited for until ready, logs kept, always stopped.

Children get PR_SET_PDEATHSIG (Linux) so they die with the supervisor even if it is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1


class ProcessFailed(RuntimeError):
    """A managed process exited or never became ready; the message quotes the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()  # own process group: Ctrl-C in the terminal reaches the supervisor only


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    held: bool = field(default=False, init=False)  # stopped or killed on purpose: never restarted

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                cwd=self.cwd,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - needed for PDEATHSIG
            )
        except OSError as exc:
            raise ProcessFailed(f"{self.name}: cannot start {self.argv[0]}: {exc}") from exc
        finally:
            log_file.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, probe: Callable[[], bool], deadline_seconds: float) -> None:
        """Poll `probe` until it returns True; fail early, with the log's tail, if the process exits."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.process.returncode if self.process else None
                raise ProcessFailed(f"{self.name} exited with code {code} before it was ready:\n{tail(self.log_path)}")
            try:
                if probe():
                    return
            except Exception:  # not listening yet
                pass
            time.sleep(0.05)
        raise ProcessFailed(f"{self.name} not ready within {deadline_seconds}s:\n{tail(self.log_path)}")

    def stop(self, grace_seconds: float = 5.0) -> None:
        self.held = True
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash would (but on purpose: the supervisor does not restart it)."""
        self.held = True
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def stop_pid(pid: int, grace_seconds: float = 10.0) -> bool:
    """Stop a process we do not hold a handle to (from the state file). Returns True if it was running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still answers kill(0); reap it if it is ours
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True
