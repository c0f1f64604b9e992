"""``footprint-map report``: outputs inside what a run owns are refused before anything is drawn."""

from __future__ import annotations

import os

import pytest
from helpers.small_store import CRSES, write_small_store

from pipeline.cli.app import main


@pytest.fixture
def results_dir(tmp_path):
    """A results directory laid out as a run leaves it: the store is a link into .versions."""
    version = tmp_path / ".versions" / "v1"
    version.mkdir(parents=True)
    write_small_store(version / "footprint.zarr", *CRSES["projected"])
    os.symlink(".versions/v1/footprint.zarr", tmp_path / "footprint.zarr")
    (tmp_path / "work").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("output", "part"), [("footprint.zarr/report", ".versions"), ("work/report", "work")]
)
def test_a_report_inside_the_runs_part_is_one_error_line(capsys, results_dir, output, part):
    code = main(["report", str(results_dir), "--output", str(results_dir / output)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert f"is part of a results directory (it lies in {part})" in err
    assert not (results_dir / ".versions" / "v1" / "footprint.zarr" / "report").exists()
    assert not (results_dir / "work" / "report").exists()
