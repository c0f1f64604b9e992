"""The CLI on a real ``dask scheduler`` + ``dask worker`` cluster on 127.0.0.1 (issue #6).

A fixture starts one scheduler and two single-threaded workers as separate
processes (each in its own session, so a worker's nanny and its worker process
die together), and the tests check that

- a run attached with ``--scheduler`` gives the same store as a LocalCluster run;
- a run survives one worker being SIGKILLed in the middle of the big write.
"""

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

import numpy as np
import pytest
import xarray as xr
from demo_inputs import build_coarse_demo
from distributed import Client

from pipeline.demo.build import build_demo_inputs
from pipeline.resources import config_file
from pipeline.store import is_complete

pytestmark = pytest.mark.cluster

BIN = Path(sys.executable).parent
COMPARED = ("footprint", "attribution", "foreign_footprint")


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


@pytest.fixture
def dask_cluster(tmp_path_factory):
    started = DaskCluster(tmp_path_factory.mktemp("dask-logs"))
    try:
        started.wait_ready(2, timeout=60)
        yield started
    finally:
        started.close()


class CliRun:
    """``footprint-map run`` as a subprocess whose stdout lines are read by a thread."""

    def __init__(self, *args: str | Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [str(BIN / "footprint-map"), "run", *map(str, args)],
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


def open_store(out: Path) -> xr.Dataset:
    """The complete store of ``out`` (follows a versioned symlink)."""
    path = Path(os.path.realpath(out / "footprint.zarr"))
    assert is_complete(path)
    return xr.open_zarr(path)


def assert_same_results(out: Path, reference: Path) -> None:
    with open_store(out) as got, open_store(reference) as want:
        for name in COMPARED:
            np.testing.assert_allclose(
                got[name].values, want[name].values, rtol=1e-12, atol=0, err_msg=name
            )


def cli_args(config: Path, inputs: Path, out: Path, *cluster: str) -> list[str]:
    return [str(config), "--inputs", str(inputs), "--out", str(out), "--no-maps", *cluster]


# ------------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def coarse(tmp_path_factory):
    """50 km inputs, the demo config and a reference run on a one-worker LocalCluster."""
    root = tmp_path_factory.mktemp("coarse")
    inputs = build_coarse_demo(root)
    config = config_file("demo.toml")
    reference = root / "reference"
    run = CliRun(*cli_args(config, inputs, reference, "--workers", "1"))
    assert run.wait() == 0, run.stderr
    return config, inputs, reference


@pytest.fixture(scope="module")
def fine(tmp_path_factory):
    """10 km inputs with 128-cell chunks (a long [4] write), and a LocalCluster reference."""
    root = tmp_path_factory.mktemp("fine")
    inputs = build_demo_inputs(root / "inputs", resolution_m=10_000, echo=lambda *_: None)
    text = config_file("demo.toml").read_text()
    config = root / "study.toml"
    config.write_text(text.replace("[inventory.files]", "chunks = 128\n\n[inventory.files]", 1))
    reference = root / "reference"
    run = CliRun(*cli_args(config, inputs, reference, "--workers", "1"))
    assert run.wait() == 0, run.stderr
    return config, inputs, reference


# -------------------------------------------------------------------------------- tests
def test_run_on_external_scheduler_matches_local(dask_cluster, coarse, tmp_path):
    config, inputs, reference = coarse
    out = tmp_path / "out"
    run = CliRun(*cli_args(config, inputs, out, "--scheduler", dask_cluster.address))
    assert run.wait() == 0, run.stderr
    cluster_line = next(line for line in run.lines if line.startswith("cluster:"))
    assert dask_cluster.address in cluster_line
    assert "dashboard: http://" in cluster_line
    assert_same_results(out, reference)


def test_run_survives_a_worker_killed_mid_write(dask_cluster, fine, tmp_path):
    config, inputs, reference = fine
    out = tmp_path / "out"
    run = CliRun(*cli_args(config, inputs, out, "--scheduler", dask_cluster.address))
    try:
        run.wait_for_line("[4]")
        time.sleep(1.0)  # let the write get going on both workers
        assert run.proc.poll() is None, "the run finished before the worker could be killed"
        assert not (out / "footprint.zarr").exists()
        os.killpg(dask_cluster.workers[0].pid, signal.SIGKILL)
        n_before = len(run.lines)
        code = run.wait()
    finally:
        stop(run.proc)
    assert dask_cluster.workers[0].wait(timeout=10) == -signal.SIGKILL
    assert code == 0, run.stderr
    assert any(line.startswith("  wrote ") for line in run.lines[n_before:]), run.stdout
    assert_same_results(out, reference)
