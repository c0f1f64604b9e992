"""Test support: the CLI and dask processes as real subprocesses, and 10 km inputs."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from distributed import Client

from pipeline.demo.build import build_demo_inputs
from pipeline.resources import config_file

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Terminate the process's session, then kill it if it does not exit."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class CliRun:
    """``footprint-map run`` (or ``command``) as a subprocess whose stdout lines a thread reads."""

    def __init__(self, *args: str | Path, command: str = "run"):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [str(BIN / "footprint-map"), command, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: stop() ends its workers too
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._err: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=lambda: self._err.extend(self.proc.stderr), daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_line(self, prefix: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line {prefix!r} in stdout: {self.stdout}{self.stderr}")

    def wait(self, timeout: float = 600) -> int:
        code = self.proc.wait(timeout=timeout)
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code

    @property
    def stdout(self) -> str:
        return "".join(self.lines)

    @property
    def stderr(self) -> str:
        return "".join(self._err)


class DaskCluster:
    """A scheduler and two workers, each a ``dask`` CLI subprocess."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.log_dir = log_dir
        self.scheduler = self._spawn(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port)],
            ["--dashboard-address", ":0"],
        )
        self.workers = [
            self._spawn(
                f"worker{n}",
                ["worker", self.address, "--nthreads", "1", "--memory-limit", "1GiB"],
                ["--no-dashboard"],
            )
            for n in range(2)
        ]

    def _spawn(self, name: str, args: list[str], extra: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [str(BIN / "dask"), *args, *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def wait_ready(self, n_workers: int = 2, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(self.address, timeout="5s") as client:
                    client.wait_for_workers(n_workers, timeout=max(deadline - time.monotonic(), 1))
                return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)


def fine_inputs(root: Path) -> tuple[Path, Path]:
    """10 km demo inputs and a config with 128-cell chunks, so the [4] write lasts seconds."""
    inputs = build_demo_inputs(root / "inputs", resolution_m=10_000, echo=lambda *_: None)
    text = config_file("demo.toml").read_text()
    config = root / "study.toml"
    config.write_text(text.replace("[inventory.files]", "chunks = 128\n\n[inventory.files]", 1))
    return config, inputs
