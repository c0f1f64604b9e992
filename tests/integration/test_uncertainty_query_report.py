"""``query --quantile`` and the report's intervals and robust-hotspot map, end to end.

On the Japan/Korea study on EPSG:4326 (``helpers.geographic_study``, unlike the
demo) run with 6 realizations. References come from the store read with plain
xarray and numpy sorts, not from the results API.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

from pipeline.cli.app import main
from pipeline.workflow.config import load_config
from pipeline.workflow.run import run_study


@pytest.fixture(scope="module")
def mc(tmp_path_factory):
    from helpers.geographic_study import build_study

    root = tmp_path_factory.mktemp("unc-geo")
    build_study(root / "jk")
    config = load_config(root / "jk" / "study.toml").with_overrides(
        uncertainty={"realizations": 6, "mrio_cv": 0.05, "inventory_cv": 0.1},
        output={"maps": False},
    )
    run_study(config, root / "mc", connect=None, echo=lambda *_: None)
    ds = xr.open_zarr(root / "mc" / "footprint.zarr").load()
    codes = ds["region_index"].attrs["flag_meanings"].split()
    consumers, foreign = ds["consumer"].values, ds["foreign"].values
    domestic = {str(c) for c, f in zip(consumers, foreign, strict=True) if not f}
    land_codes = [codes.index(r) for r in map(str, ds["region"].values) if r in domestic]
    return {"out": root / "mc", "ds": ds, "land": np.isin(ds["region_index"].values, land_codes)}


def run(capsys, *argv):
    code = main(["query", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cell_ranking_of_a_quantile_is_the_stored_layer(mc, capsys):
    code, out, _ = run(capsys, mc["out"], "--quantile", "0.95", "--format", "csv", "--top", "all")
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    layer = mc["ds"]["foreign_footprint_quantiles"].sel(quantile=0.95).values
    assert len(table) == layer.size
    np.testing.assert_array_equal(table["t_co2"], layer[table["row"], table["col"]])
    assert table["t_co2"].iloc[0] == layer.max() > 0
    assert (np.diff(table["t_co2"]) <= 0).all()
    assert table["share"].sum() == pytest.approx(1.0, rel=1e-9)


def test_hotspots_of_a_consumer_quantile_are_the_sorted_cells(mc, capsys):
    argv = [mc["out"], "--quantile", "0.05", "--consumer", "USA", "--hotspots"]
    code, out, _ = run(capsys, *argv, "--format", "csv", "--top", "all")
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    layer = mc["ds"]["footprint_quantiles"].sel(quantile=0.05, foreign_consumer="USA").values
    on_land = np.sort(layer[mc["land"]])[::-1]
    k = int(np.argmax(np.cumsum(on_land) / on_land.sum() >= 0.75 * (1 - 1e-12))) + 1
    assert len(table) == k > 0
    np.testing.assert_array_equal(np.sort(table["t_co2"])[::-1], on_land[:k])
    code, out, _ = run(capsys, *argv, "--format", "table", "--top", "2")
    assert code == 0 and out.startswith("# CO2 driven by USA (quantile 0.05):")


def test_quantile_geotiff_is_the_stored_layer(mc, capsys, tmp_path):
    path = tmp_path / "p50.tif"
    code, _, _ = run(
        capsys, mc["out"], "--quantile", "0.5", "--format", "geotiff", "--output", path
    )
    assert code == 0
    with rasterio.open(path) as tif:
        assert tif.crs.to_epsg() == 4326
        np.testing.assert_array_equal(
            tif.read(1), mc["ds"]["foreign_footprint_quantiles"].sel(quantile=0.5).values
        )


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--quantile", "0.9"], ["--quantile 0.9 was not stored", "0.05, 0.5, 0.95"]),
        (["--quantile", "0.5", "--consumer", "JPN"], ["domestic", "drop --consumer"]),
    ],
)
def test_unavailable_quantile_or_consumer_is_one_line(mc, capsys, argv, needles):
    code, _, err = run(capsys, mc["out"], *argv)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert all(n in err for n in needles), err


def test_results_without_uncertainty_name_the_fix(geographic_results, capsys):
    code, _, err = run(capsys, geographic_results, "--quantile", "0.5")
    assert code == 2 and err.count("\n") == 1
    assert "no Monte Carlo quantiles" in err and "--realizations N" in err
    summary = json.loads((geographic_results / "summary.json").read_text())
    assert "uncertainty" not in summary


def test_report_shows_intervals_and_the_robust_hotspot_map(mc, tmp_path):
    from pipeline import open_results
    from pipeline.results.report import build_report
    from pipeline.results.report_tables import land_pct, pct
    from pipeline.results.uncertainty_view import robust_hotspot_masks

    results = open_results(mc["out"])
    index = build_report(results, tmp_path / "report")
    html = index.read_text()
    summary = json.loads((mc["out"] / "summary.json").read_text())
    block = summary["uncertainty"]
    assert 'href="#uncertainty"' in html and "5–95 % interval (6 realizations)" in html
    for dim in ("consumer", "sector"):
        for code, stats in block[f"{dim}_shares"].items():
            assert f"<td>{pct(stats['0.05'])} – {pct(stats['0.95'])}</td>" in html, (dim, code)
    land = block["land_share_for_75pct"]
    row = "".join(
        f"<td>{land_pct(v)}</td>"
        for v in (summary["land_share_for_75pct"], land["0.05"], land["0.5"], land["0.95"])
    )
    assert row in html.replace("\n", "").replace("  ", "")
    robust = block["hotspot_robustness"]
    assert f"{robust['robust_cells']:,} ({pct(robust['robust_share'])})" in html
    with rasterio.open(tmp_path / "report" / "robust_hotspots.png") as png:
        assert png.width > 300
    hotspots, strong, share = robust_hotspot_masks(results)
    assert (
        int(hotspots.sum()) == robust["hotspot_cells"] and share == summary["land_share_for_75pct"]
    )
    assert (
        int(strong.sum())
        == robust["robust_cells"]
        == ((mc["ds"]["hotspot_frequency"].values >= 6) & hotspots.values).sum()
    )


def test_report_without_uncertainty_has_no_section(geographic_results, tmp_path):
    from pipeline import open_results
    from pipeline.results.report_uncertainty import share_interval_column, uncertainty_section

    results = open_results(geographic_results)
    assert uncertainty_section(results, tmp_path, print) == []
    assert share_interval_column(results, "consumer", ["USA"]) is None
