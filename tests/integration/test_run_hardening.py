"""Run hardening through real processes (issue 11): fail fast, one writer, commit together.

- ``--workers 0`` / ``-2`` fail at once (no hang);
- two concurrent runs into one ``--out``: one completes, the other fails naming the holder;
- a failure after the store is written (maps, summary) leaves the previous store,
  summary.json and maps whole;
- a symlinked ``DIR/.versions`` is refused and nothing outside ``--out`` is deleted;
- ``--out`` inside the inputs is refused;
- no socket of a LocalCluster run listens on a non-loopback address.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.demo_inputs import build_coarse_demo, demo_config
from helpers.processes import BIN, CliRun
from helpers.stores import open_store

from pipeline.resources import config_file
from pipeline.storage.versions import VERSIONS

CONFIG = config_file("demo.toml")


@pytest.fixture(scope="module")
def coarse(tmp_path_factory):
    return build_coarse_demo(tmp_path_factory.mktemp("coarse"))


def cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [str(BIN / "footprint-map"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


def result_files(out: Path) -> dict[str, bytes | np.ndarray]:
    """Everything a reader sees through DIR: store values, summary.json, map bytes."""
    with open_store(out / "footprint.zarr") as ds:
        seen: dict = {"footprint": ds["footprint"].values, "emissions": ds["emissions"].values}
    seen["summary.json"] = (out / "summary.json").read_bytes()
    for png in sorted((out / "maps").glob("*.png")):
        seen[png.name] = png.read_bytes()
    return seen


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_zero_or_negative_workers_fail_at_once(coarse, tmp_path, workers):
    start = time.monotonic()
    done = cli(
        "run",
        CONFIG,
        "--inputs",
        coarse,
        "--out",
        tmp_path / "out",
        "--workers",
        workers,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    line = one_error_line(done.stderr)
    # at once: before any stage, before --out is created (the time is loose: shared CI)
    assert "[1]" not in done.stdout and not (tmp_path / "out").exists()
    assert done.returncode == 2 and elapsed < 15, (elapsed, done.stderr)
    assert f"--workers / [cluster] n_workers = {workers}" in line and ">= 1" in line


def test_two_runs_into_one_out_one_completes_the_other_is_refused(coarse, tmp_path):
    out = tmp_path / "out"
    first = CliRun(CONFIG, "--inputs", coarse, "--out", out, "--workers", "1", "--no-maps")
    try:
        first.wait_for_line("[1]")  # the lock is taken before stage [1]
        os.kill(first.proc.pid, signal.SIGSTOP)  # holds the lock while the second tries
        try:
            second = cli(
                "run",
                CONFIG,
                "--inputs",
                coarse,
                "--out",
                out,
                "--workers",
                "1",
                "--no-maps",
                timeout=120,
            )
        finally:
            os.kill(first.proc.pid, signal.SIGCONT)
        line = one_error_line(second.stderr)
        assert second.returncode == 2
        assert f"pid {first.proc.pid} on host {socket.gethostname()}" in line, line
        assert first.wait() == 0, first.stderr
    finally:
        first.proc.kill()
    with open_store(out / "footprint.zarr") as ds:
        total = float(ds["footprint"].sum())
        np.testing.assert_allclose(total, float(ds["emissions"].sum()), rtol=1e-9)
    assert json.loads((out / "summary.json").read_text())["foreign_total_t"] > 0
    assert not (out / ".lock").exists()


@pytest.fixture(scope="module")
def previous(coarse, tmp_path_factory):
    """A complete run with maps, copied by each test that breaks a rerun."""
    out = tmp_path_factory.mktemp("previous") / "out"
    from pipeline.workflow.run import run_study

    run_study(demo_config(coarse), out, echo=lambda *_: None)
    return out


@pytest.mark.parametrize("where", ["summary", "maps"])
def test_failure_after_the_store_is_written_keeps_the_previous_result(
    previous, coarse, tmp_path, monkeypatch, where
):
    import shutil

    from pipeline.workflow import run as run_mod

    out = Path(shutil.copytree(previous, tmp_path / "out", symlinks=True))
    before = result_files(out)
    written = []

    def fail(*_args, **_kwargs):
        written.append(list((out / VERSIONS).glob(".v*/footprint.zarr")))
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "maps"))

    target = run_mod.summary if where == "summary" else run_mod.maps
    monkeypatch.setattr(target, "summarize" if where == "summary" else "standard_maps", fail)
    with pytest.raises(OSError, match="No space"):
        run_mod.run_study(demo_config(coarse), out, echo=lambda *_: None)
    assert written and written[0], "the failure came before the new store was written"
    assert_same(result_files(out), before)
    assert [p.name for p in (out / VERSIONS).iterdir() if p.name.startswith(".")] == []
    assert not (out / ".lock").exists()


def test_symlinked_versions_is_refused_and_nothing_outside_out_is_deleted(coarse, tmp_path):
    outside = tmp_path / "elsewhere"
    (outside / "v20200101T000000-0badf00d").mkdir(parents=True)
    (outside / "keep.txt").write_text("mine")
    out = tmp_path / "out"
    out.mkdir()
    (out / VERSIONS).symlink_to(outside)
    done = cli("run", CONFIG, "--inputs", coarse, "--out", out, "--workers", "1", timeout=120)
    line = one_error_line(done.stderr)
    assert done.returncode == 2 and f"{out / VERSIONS} is a symbolic link" in line
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt", "v20200101T000000-0badf00d"]


def test_out_inside_the_inputs_is_refused(coarse, tmp_path):
    done = cli(
        "run",
        CONFIG,
        "--inputs",
        coarse,
        "--out",
        coarse / "results",
        "--workers",
        "1",
        timeout=120,
    )
    line = one_error_line(done.stderr)
    assert done.returncode == 2 and str(coarse / "results") in line and str(coarse) in line
    assert not (coarse / "results" / "footprint.zarr").exists()


def listeners() -> list[tuple[int, str, int]]:
    import psutil

    me = psutil.Process()
    return [
        (proc.pid, conn.laddr.ip, conn.laddr.port)
        for proc in [me, *me.children(recursive=True)]
        for conn in proc.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    ]


def test_local_cluster_listens_on_loopback_only():
    import cluster

    lines = []
    with cluster.connect({"n_workers": 2}, echo=lines.append) as client:
        found = listeners()
        assert len(client.scheduler_info()["workers"]) == 2
    assert len({pid for pid, _, _ in found}) >= 3, found  # the driver and two workers
    assert {ip for _, ip, _ in found} == {"127.0.0.1"}, found
    assert "dashboard: http://127.0.0.1:" in lines[0]
