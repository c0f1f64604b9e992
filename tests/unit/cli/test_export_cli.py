"""``footprint-map export``: bad flags, a missing results directory, refused outputs.

Nothing here exports; the exports themselves, their default names and
``--output`` run end to end on whole studies in tests/integration/test_export.py.
"""

from __future__ import annotations

import pytest
from helpers.small_store import CRSES, write_small_store

from pipeline.cli.app import main


def run(capsys, *argv):
    code = main(["export", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    """A directory holding a small complete ``footprint.zarr``."""
    root = tmp_path_factory.mktemp("results")
    write_small_store(root / "footprint.zarr", *CRSES["projected"])
    (root / "inputs.csv").write_text("a study input\n")  # never overwritten by an export
    (root / "work").mkdir()
    return root


def test_missing_results_dir_is_one_error_line(capsys, tmp_path):
    code, out, err = run(capsys, tmp_path / "nothing", "--format", "cog")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and "footprint-map run" in err


def test_a_bad_format_is_refused_by_argparse(capsys, results_dir):
    with pytest.raises(SystemExit) as info:
        run(capsys, results_dir, "--format", "gpkg")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'gpkg'" in err and "netcdf" in err


def test_format_is_required(capsys, results_dir):
    with pytest.raises(SystemExit) as info:
        run(capsys, results_dir)
    assert info.value.code == 2 and "--format" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fmt", "output", "message"),
    [
        ("netcdf", "{dir}", "is a directory; give a file name"),
        ("netcdf", "/dev/null/x.nc", "/dev/null: File exists (EEXIST); check the path"),
        ("zarr-gdal", "{dir}", "is not a zarr-gdal export"),
        ("netcdf", "{dir}/inputs.csv", "is not a NetCDF export of footprint-map; choose a new"),
        ("netcdf", "{dir}/work/x.nc", "is part of a results directory (it lies in work)"),
    ],
)
def test_bad_outputs_are_one_error_line(capsys, results_dir, fmt, output, message):
    code, _, err = run(capsys, results_dir, "--format", fmt, "--output",
                       output.format(dir=results_dir))  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert message in err
    assert (results_dir / "inputs.csv").read_text() == "a study input\n"


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", "--help"])
    assert info.value.code == 0
    assert "footprint-map export demo-out --format cog" in capsys.readouterr().out
