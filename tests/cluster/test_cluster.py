"""The CLI on a real ``dask scheduler`` + ``dask worker`` cluster on 127.0.0.1 (issue #6).

A fixture starts one scheduler and two single-threaded workers as separate
processes (each in its own session, so a worker's nanny and its worker process
die together), and the tests check that

- a run attached with ``--scheduler`` (two workers) gives bit for bit the same
  store as a one-worker LocalCluster run (the Leontief column blocks depend on
  the data only);
- a run survives one worker being SIGKILLed while the Leontief factor is being
  shipped to the workers, with bit-identical results (the factor is a task the
  scheduler recomputes, not broadcast data that could hang);
- a run survives one worker being SIGKILLed in the middle of the big write;
- a run whose scheduler is SIGKILLed ends within a bound with exit status 2 and
  one ``error:`` line, and publishes nothing.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers.demo_inputs import build_coarse_demo
from helpers.processes import CliRun, fine_inputs, stop
from helpers.stores import open_store as open_factorized

from pipeline.resources import config_file
from pipeline.storage.versions import is_complete

COMPARED = ("footprint", "attribution", "foreign_footprint")


def open_store(out: Path) -> xr.Dataset:
    """The complete store of ``out`` (follows a versioned symlink)."""
    path = Path(os.path.realpath(out / "footprint.zarr"))
    assert is_complete(path)
    return open_factorized(path)


def assert_same_results(out: Path, reference: Path, *, bitwise: bool = False) -> None:
    with open_store(out) as got, open_store(reference) as want:
        for name in COMPARED:
            if bitwise:
                np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)
            else:
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
    config, inputs = fine_inputs(root)
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
    assert_same_results(out, reference, bitwise=True)


def test_worker_killed_while_the_factor_is_shipped_gives_identical_results(
    dask_cluster, coarse, tmp_path
):
    config, inputs, reference = coarse
    out = tmp_path / "out"
    run = CliRun(*cli_args(config, inputs, out, "--scheduler", dask_cluster.address))
    try:
        run.wait_for_line("  Leontief solve:")  # the driver factorizes, then submits
        os.killpg(dask_cluster.workers[0].pid, signal.SIGKILL)
        code = run.wait(timeout=300)
    finally:
        stop(run.proc)
    assert dask_cluster.workers[0].wait(timeout=10) == -signal.SIGKILL
    assert code == 0, run.stderr
    assert_same_results(out, reference, bitwise=True)


def test_scheduler_killed_mid_run_ends_with_one_error_line(dask_cluster, fine, tmp_path):
    config, inputs, _ = fine
    out = tmp_path / "out"
    run = CliRun(*cli_args(config, inputs, out, "--scheduler", dask_cluster.address))
    try:
        run.wait_for_line("[4]")
        time.sleep(1.0)
        assert run.proc.poll() is None, "the run finished before the scheduler could be killed"
        os.killpg(dask_cluster.scheduler.pid, signal.SIGKILL)
        start = time.monotonic()
        code = run.wait(timeout=240)
        elapsed = time.monotonic() - start
    finally:
        stop(run.proc)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert code == 2, run.stderr
    assert "Traceback" not in run.stderr and len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ") and dask_cluster.address.split("//")[1] in lines[0]
    print(f"scheduler lost -> exit {code} after {elapsed:.1f} s")
    assert elapsed < 120, elapsed
    assert not os.path.lexists(out / "footprint.zarr")
    assert not (out / ".lock").exists()


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


def test_uncertainty_same_seed_same_quantiles_on_one_and_two_workers(
    dask_cluster, coarse, tmp_path
):
    """Realizations spread over two real workers give the one-worker quantiles, bit for bit."""
    config, inputs, _ = coarse
    outs = {}
    for name, flags in (
        ("one", ["--workers", "1"]),
        ("two", ["--scheduler", dask_cluster.address]),
    ):
        outs[name] = tmp_path / name
        run = CliRun(*cli_args(config, inputs, outs[name], *flags, "--realizations", "6"))
        assert run.wait() == 0, run.stderr
    names = ("foreign_footprint_quantiles", "footprint_quantiles", "attribution_quantiles")
    with open_store(outs["one"]) as one, open_store(outs["two"]) as two:
        for name in names:
            np.testing.assert_array_equal(one[name].values, two[name].values, err_msg=name)
        spread = one["foreign_footprint_quantiles"].values
        assert (spread[2] - spread[0]).max() > 0
    assert "realization 6/6 done" in run.stdout
