"""``query --scenario [--delta]``, consumer groups in ``query`` and change maps, on the
session's coarse demo run (which writes the demo's two scenarios); the report's scenario
section is checked in ``test_report.py``.

Every expected number is read from the stores (``Results.layer``) or from the
scenario's ``summary.json``.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
import rasterio
from matplotlib.colors import LogNorm

from pipeline import open_results
from pipeline.cli.app import build_parser, main
from pipeline.cli.query_maps import query_figure
from pipeline.cli.query_plan import plan_query

TARIFF = ["--scenario", "us_tariff_25"]


@pytest.fixture(scope="module")
def out(shared_results):
    return shared_results


@pytest.fixture(scope="module")
def tariff(out):
    return open_results(out, scenario="us_tariff_25")


def run(capsys, *argv):
    code = main(["query", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def by_code(results, values: np.ndarray) -> pd.Series:
    index = results.region_index
    return pd.Series({c: values[index == n].sum() for n, c in enumerate(results.codes)})


def test_delta_cells_csv_equal_the_change_layer(capsys, out, tariff):
    code, text, _ = run(capsys, out, *TARIFF, "--delta", "--top", "40", "--format", "csv")
    assert code == 0
    frame = pd.read_csv(io.StringIO(text))
    delta = tariff.layer(delta=True).values
    got = frame["t_co2"].to_numpy()
    np.testing.assert_allclose(got, delta[frame["row"], frame["col"]], rtol=1e-12, atol=0)
    assert abs(got[0]) == pytest.approx(np.abs(delta).max(), rel=1e-12)
    assert np.all(np.diff(np.abs(got)) <= 0) and got.min() < 0  # by size, signed
    assert frame["share"].iloc[0] == pytest.approx(got[0] / delta.sum(), rel=1e-9)


def test_delta_by_province_and_the_header(capsys, out, tariff):
    code, text, _ = run(capsys, out, *TARIFF, "--delta", "--consumer", "USA", "--by", "province")
    assert code == 0
    first = text.splitlines()[0]
    total = float(tariff.layer("USA", delta=True).sum())
    assert first.startswith("# change of CO2 driven by USA in scenario us_tariff_25")
    assert float(re.search(r": ([-+0-9.e]+) t;", first).group(1)) == pytest.approx(total, 1e-3)
    code, text, _ = run(
        capsys, out, *TARIFF, "--delta", "--consumer", "USA", "--by", "province",
        "--top", "all", "--format", "csv",
    )  # fmt: skip
    frame = pd.read_csv(io.StringIO(text)).set_index("province")["t_co2"]
    expected = by_code(tariff, tariff.layer("USA", delta=True).values)
    np.testing.assert_allclose(frame.to_numpy(), expected[frame.index].to_numpy(), rtol=1e-9)
    assert list(frame.index[:3]) == list(expected.abs().sort_values(ascending=False).index[:3])


def test_scenario_without_delta_reads_the_scenarios_store(capsys, out, tariff):
    code, text, _ = run(capsys, out, *TARIFF, "--consumer", "USA", "--top", "1", "--format", "csv")
    assert code == 0
    top = pd.read_csv(io.StringIO(text)).iloc[0]
    assert top["t_co2"] == pytest.approx(float(tariff.layer("USA").max()), rel=1e-12)
    base = open_results(out).layer("USA").max()
    assert top["t_co2"] < float(base)  # USA buys 25 % less from China


def test_a_group_is_the_sum_of_its_members(capsys, out, tmp_path):
    code, text, _ = run(capsys, out, "--consumer", "BRI", "--by", "province", "--format", "csv",
                        "--top", "all")  # fmt: skip
    assert code == 0
    base = open_results(out)
    frame = pd.read_csv(io.StringIO(text)).set_index("province")["t_co2"]
    members = base.layer("RUS").values + base.layer("ROW").values
    np.testing.assert_allclose(frame, by_code(base, members)[frame.index], rtol=1e-9)
    path = tmp_path / "bri.tif"
    code, _, _ = run(capsys, out, "--scenario", "bri_shift", "--delta", "--consumer", "BRI",
                     "--format", "geotiff", "--output", path)  # fmt: skip
    assert code == 0
    shift = open_results(out, scenario="bri_shift")
    parts = shift.layer("RUS", delta=True).values + shift.layer("ROW", delta=True).values
    with rasterio.open(path) as tif:
        raster = tif.read(1)
    assert np.abs(raster - parts).max() <= 1e-9 * np.abs(parts).max()
    assert parts.sum() > 0  # BRI buys 20 % more from China


def test_delta_drivers_of_a_region_add_up_to_the_summary(capsys, out, tariff):
    code, text, _ = run(capsys, out, *TARIFF, "--delta", "--region", "CN-GD", "--group",
                        "consumer", "--top", "all", "--format", "csv")  # fmt: skip
    assert code == 0
    frame = pd.read_csv(io.StringIO(text))
    change = tariff.summary()["delta"]["by_province"]["CN-GD"]["change_t"]
    assert frame["t_co2"].sum() == pytest.approx(change, rel=1e-9)
    assert frame["consumer"].iloc[0] == "USA" and frame["t_co2"].iloc[0] < 0


def test_delta_png_uses_a_zero_centred_diverging_norm(capsys, out, tariff, tmp_path):
    argv = ["query", str(out), *TARIFF, "--delta", "--format", "png", "--output",
            str(tmp_path / "d.png")]  # fmt: skip
    args = build_parser().parse_args(argv)
    fig = query_figure(tariff, args, plan_query(args))
    image = next(im for im in fig.axes[0].images if im.get_cmap().name.startswith("RdBu"))
    norm = image.norm
    assert not isinstance(norm, LogNorm)
    assert norm.vmin == -norm.vmax and float(norm(0.0)) == pytest.approx(0.5)
    assert norm.vmax == pytest.approx(float(np.abs(image.get_array()).max()), rel=1e-12)
    assert main(argv[:]) == 0 and (tmp_path / "d.png").stat().st_size > 10_000
    capsys.readouterr()


def test_delta_without_scenario_is_one_line(capsys, out):
    code, text, err = run(capsys, out, "--delta", "--by", "province")
    assert code == 2 and text == ""
    assert err.count("\n") == 1 and err.startswith("error: --delta") and "--scenario" in err
