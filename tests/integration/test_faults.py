"""Faults around the result store, through the real CLI (issue #6).

- the driver's whole process group SIGKILLed in the middle of the ``[4]`` write,
  with and without a previous complete store in ``OUT``;
- readers holding the previous store while a rerun writes different results
  (``OUT/footprint.zarr`` links to ``OUT/.current/footprint.zarr``; ``OUT/.current``
  is a link to ``OUT/.versions/<id>``, swapped atomically; the previous version
  is kept);
- ``--resume`` reusing unchanged stages and rerunning changed ones.

The interrupted runs use the 10 km demo with 128-cell chunks, so ``[4]`` takes
several seconds on a one-worker LocalCluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from helpers.demo_inputs import build_coarse_demo, copy_inputs
from helpers.processes import BIN, CliRun, fine_inputs, stop
from helpers.stores import open_store

import pipeline
from pipeline.resources import config_file
from pipeline.storage.versions import is_complete

STORE = "footprint.zarr"
COMPARED = ("emissions", "footprint", "attribution", "foreign_footprint", "footprint_by_sector")


def cli_args(config: Path, inputs: Path, out: Path) -> list[str]:
    return [str(config), "--inputs", str(inputs), "--out", str(out), "--no-maps"]


def run_ok(config: Path, inputs: Path, out: Path, *extra: str) -> CliRun:
    run = CliRun(*cli_args(config, inputs, out), "--workers", "1", *extra)
    assert run.wait() == 0, run.stderr
    return run


def snapshot(out: Path) -> dict[str, np.ndarray]:
    with open_store(os.path.realpath(out / STORE)) as ds:
        return {name: ds[name].values for name in COMPARED}


def assert_equal_to(ds: xr.Dataset, expected: dict[str, np.ndarray]) -> None:
    for name, values in expected.items():
        np.testing.assert_array_equal(ds[name].values, values, err_msg=name)


def leftovers(out: Path) -> list[Path]:
    """Temporaries a run may leave: partial stores and versions, trash, link temporaries."""
    found = [p for p in out.iterdir() if "~" in p.name]
    versions = out / ".versions"
    if versions.is_dir():
        found += [p for p in versions.iterdir() if p.name.startswith(".")]
    return found


def scale_layer(path: Path, factor: float) -> None:
    with rasterio.open(path, "r+") as dst:
        dst.write(dst.read(1) * factor, 1)


# ------------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def fine(tmp_path_factory):
    """10 km inputs, a config with 128-cell chunks, and a complete run to copy as 'previous'."""
    root = tmp_path_factory.mktemp("fine")
    config, inputs = fine_inputs(root)
    previous = root / "previous"
    run_ok(config, inputs, previous)
    return config, inputs, previous


def copy_out(previous: Path, dest: Path) -> Path:
    """A private copy of a complete results directory (the version link stays relative)."""
    return Path(shutil.copytree(previous, dest, symlinks=True))


def kill_during_write(config: Path, inputs: Path, out: Path) -> CliRun:
    """Start a run, SIGKILL its whole process group a second into ``[4]``."""
    run = CliRun(*cli_args(config, inputs, out), "--workers", "1")
    try:
        run.wait_for_line("[4]")
        time.sleep(1.0)
        assert run.proc.poll() is None, "the run finished before it could be killed"
        os.killpg(run.proc.pid, signal.SIGKILL)
        assert run.proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        stop(run.proc)
    assert not any(line.startswith("  wrote ") for line in run.lines), run.stdout
    return run


# -------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("previous_run", [False, True], ids=["first-run", "previous-run"])
def test_driver_killed_mid_write_leaves_no_partial_store(previous_run, fine, tmp_path):
    config, inputs, previous = fine
    out = copy_out(previous, tmp_path / "out") if previous_run else tmp_path / "out"
    before = snapshot(out) if previous_run else None
    link_before = os.path.realpath(out / STORE) if previous_run else None

    kill_during_write(config, inputs, out)
    time.sleep(1.0)  # orphaned LocalCluster workers notice their parent is gone

    store = out / STORE
    if previous_run:
        assert is_complete(store)
        assert os.path.realpath(store) == link_before
        assert_equal_to(pipeline.open_results(out).ds, before)
    else:
        assert not os.path.lexists(store)
        with pytest.raises(pipeline.FootprintError, match="no footprint.zarr"):
            pipeline.open_results(out)
    for leftover in leftovers(out):  # e.g. .versions/.v*.partial~HOST~PID~ID
        assert not is_complete(leftover) and not is_complete(leftover / STORE), leftover

    rerun = run_ok(config, inputs, out)
    assert any(line.startswith("  wrote ") for line in rerun.lines)
    assert is_complete(store)
    ds = pipeline.open_results(out).ds
    assert float(ds["foreign_footprint"].sum()) > 0
    if previous_run:
        assert_equal_to(ds, before)


def test_rerun_removes_a_killed_runs_temporaries(fine, tmp_path):
    config, inputs, previous = fine
    out = copy_out(previous, tmp_path / "out")
    kill_during_write(config, inputs, out)
    assert leftovers(out), "the killed run left nothing to clean up; kill earlier"
    run_ok(config, inputs, out)
    assert [p.name for p in leftovers(out)] == []


def test_readers_keep_their_version_while_a_rerun_writes(fine, tmp_path):
    config, inputs, previous = fine
    out = copy_out(previous, tmp_path / "out")
    before = snapshot(out)
    held = pipeline.open_results(out).ds  # lazy: reads chunks when asked
    plain = open_store(os.path.realpath(out / STORE))

    doubled = copy_inputs(inputs, tmp_path)
    scale_layer(doubled / "inventory" / "power.tif", 2.0)
    run = CliRun(*cli_args(config, doubled, out), "--workers", "1")
    reads = 0
    try:
        while run.proc.poll() is None:
            for ds in (held, plain):
                assert_equal_to(ds, before)
            reads += 1
        assert run.wait() == 0, run.stderr
    finally:
        stop(run.proc)
    assert reads >= 2
    assert any(line.startswith("  wrote ") for line in run.lines)
    for ds in (held, plain):  # after the swap, still the old version, never mixed
        assert_equal_to(ds, before)

    fresh = pipeline.open_results(out).ds
    p = list(fresh["sector"].values).index("power")
    others = [n for n in range(fresh.sizes["sector"]) if n != p]
    np.testing.assert_array_equal(fresh["emissions"].values[p], 2 * before["emissions"][p])
    np.testing.assert_array_equal(fresh["emissions"].values[others], before["emissions"][others])
    np.testing.assert_allclose(
        fresh["footprint_by_sector"].values[p], 2 * before["footprint_by_sector"][p], rtol=1e-12
    )
    np.testing.assert_allclose(
        fresh["footprint_by_sector"].values[others],
        before["footprint_by_sector"][others],
        rtol=1e-12,
    )


@pytest.fixture(scope="module")
def coarse(tmp_path_factory):
    return build_coarse_demo(tmp_path_factory.mktemp("coarse"))


def test_resume_reuses_unchanged_stages_and_reruns_changed_ones(coarse, tmp_path):
    help_text = subprocess.run(
        [str(BIN / "footprint-map"), "run", "--help"], capture_output=True, text=True, check=True
    ).stdout
    if "--resume" not in help_text:
        pytest.skip("footprint-map run has no --resume yet")
    config = config_file("demo.toml")
    inputs = copy_inputs(coarse, tmp_path)
    out = tmp_path / "out"

    def reuse_lines(run: CliRun) -> list[str]:  # (the test's own path says "reuses")
        return [line for line in run.lines if "reus" in line.replace(str(tmp_path), "")]

    first = run_ok(config, inputs, out)
    assert reuse_lines(first) == []
    before = snapshot(out)

    same = run_ok(config, inputs, out, "--resume")
    assert len(reuse_lines(same)) >= 3, same.stdout  # inventory, MRIO shares, cubes
    assert_equal_to(pipeline.open_results(out).ds, before)

    with rasterio.open(inputs / "inventory" / "cement.tif", "r+") as dst:
        data = dst.read(1)
        row, col = np.unravel_index(np.argmax(data), data.shape)
        data[row, col] *= 3.0
        dst.write(data, 1)
    changed = run_ok(config, inputs, out, "--resume")
    reused = "".join(reuse_lines(changed))
    assert "inventory" not in reused and "cubes" not in reused, changed.stdout
    assert any(line.startswith("  wrote ") for line in changed.lines), changed.stdout
    ds = pipeline.open_results(out).ds
    cement = list(ds["sector"].values).index("cement")
    new, old = ds["emissions"].values[cement], before["emissions"][cement]
    assert new[row, col] == pytest.approx(3.0 * old[row, col], rel=1e-12)
    mask = np.ones(new.shape, dtype=bool)
    mask[row, col] = False
    np.testing.assert_array_equal(new[mask], old[mask])
    cell_total = ds["footprint"].values[:, row, col].sum()
    assert cell_total == pytest.approx(ds["emissions"].values[:, row, col].sum(), rel=1e-9)
    assert cell_total > before["footprint"][:, row, col].sum()
