"""``footprint-map query``: every format against values computed from the zarr store.

``--help`` and a missing results folder, which need no run, are in
``tests/unit/cli/test_query_without_results.py``.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from helpers.stores import open_store

from pipeline.cli.app import main


@pytest.fixture(scope="module")
def out(shared_results):
    return shared_results


@pytest.fixture(scope="module")
def ds(out):
    return open_store(out / "footprint.zarr").load()


def run(capsys, *argv):
    code = main(["query", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_default_table_lists_top_cells(capsys, out, ds):
    code, text, _ = run(capsys, out, "--top", "3")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].startswith("# CO2 driven by all foreign consumers")
    assert "75% on" in lines[0] and "km²" in lines[0]
    cells = ds.sizes["y"] * ds.sizes["x"]
    assert lines[1] == f"# showing 3 of {cells:,} cells of the grid; --top all lists every one"
    assert lines[2].split()[:3] == ["rank", "row", "col"]
    assert len(lines) == 3 + 3
    best = float(ds["foreign_footprint"].max())
    assert float(lines[3].split()[8]) == pytest.approx(best, rel=1e-5)


def test_csv_by_province_matches_store(capsys, out, ds):
    code, text, _ = run(capsys, out, "--consumer", "USA", "--by", "province", "--format", "csv")
    assert code == 0
    frame = pd.read_csv(io.StringIO(text))
    codes = ds["region_index"].attrs["flag_meanings"].split()
    usa = ds["footprint"].sel(consumer="USA").values
    idx = ds["region_index"].values
    expected = pd.Series({c: usa[idx == n].sum() for n, c in enumerate(codes)})
    expected = expected.sort_values(ascending=False).head(10)
    assert list(frame["province"]) == list(expected.index)
    np.testing.assert_allclose(frame["t_co2"], expected.to_numpy(), rtol=1e-12)


def test_json_by_city_and_parquet(capsys, out, ds, tmp_path):
    code, text, _ = run(capsys, out, "--sector", "power", "--by", "city", "--format", "json")
    assert code == 0
    records = json.loads(text)
    assert len(records) == 10
    assert {"city", "province", "t_co2", "share", "cells"} <= set(records[0])
    target = tmp_path / "cities.parquet"
    code, _, err = run(capsys, out, "--by", "city", "--top", "5", "--format", "parquet",
                       "--output", target)  # fmt: skip
    assert code == 0 and "wrote" in err
    table = pd.read_parquet(target)
    assert len(table) == 5 and table["t_co2"].is_monotonic_decreasing


def test_drivers_of_region(capsys, out, ds):
    code, text, _ = run(capsys, out, "--region", "CN-GD", "--group", "consumer",
                        "--format", "csv", "--top", "50")  # fmt: skip
    assert code == 0
    frame = pd.read_csv(io.StringIO(text)).set_index("consumer")
    a = ds["attribution"].sel(region="CN-GD")
    for consumer in ("USA", "CN-GD", "JPN"):
        assert frame.loc[consumer, "t_co2"] == pytest.approx(float(a.sel(consumer=consumer).sum()))


def test_drivers_of_cell_filtered_by_consumer(capsys, out, ds):
    code, text, _ = run(capsys, out, "--cell", "113.25,23.12", "--consumer", "USA",
                        "--group", "consumer", "--format", "json")  # fmt: skip
    assert code == 0
    records = json.loads(text)
    assert [r["consumer"] for r in records] == ["USA"]
    usa = ds["footprint"].sel(consumer="USA")
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", ds.rio.crs, always_xy=True).transform(113.25, 23.12)
    expected = float(usa.sel(x=x, y=y, method="nearest"))
    assert records[0]["t_co2"] == pytest.approx(expected, rel=1e-9)


def test_geotiff_reads_back_equal(capsys, out, ds, tmp_path):
    target = tmp_path / "usa_households.tif"
    code, _, _ = run(capsys, out, "--consumer", "USA", "--format", "geotiff",
                     "--output", target)  # fmt: skip
    assert code == 0
    with rasterio.open(target) as src:
        band = src.read(1)
        assert src.crs == ds.rio.crs
        assert src.transform == ds.rio.transform()
        assert src.count == 1 and src.dtypes[0] == "float64"
    np.testing.assert_array_equal(band, ds["footprint"].sel(consumer="USA").values)


def test_png_map(capsys, out, tmp_path):
    target = tmp_path / "map.png"
    code, _, _ = run(capsys, out, "--sector", "power", "--category", "households",
                     "--format", "png", "--output", target)  # fmt: skip
    assert code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("flag", "bad", "hint"),
    [
        ("--consumer", "UAS", "USA"),
        ("--sector", "steel", "iron_steel"),
        ("--category", "housholds", "households"),
        ("--region", "CN-GDD", "CN-GD"),
        ("--city", "Shangai", "Shanghai"),
    ],
)
def test_unknown_code_is_one_line_error(capsys, out, flag, bad, hint):
    code, text, err = run(capsys, out, flag, bad)
    assert code == 2
    assert text == ""
    assert err.count("\n") == 1 and err.startswith("error: unknown")
    assert hint in err


def test_file_formats_need_output(capsys, out):
    code, _, err = run(capsys, out, "--format", "geotiff")
    assert code == 2 and "--output" in err


def test_scheduler_prints_dashboard_link(capsys, out):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        code, text, err = run(capsys, out, "--top", "2", "--scheduler", cluster.scheduler_address)
    assert code == 0
    assert "dask dashboard: http" in err
    assert len(text.splitlines()) == 5  # concentration line, "showing 2 of", header, 2 rows


def test_hotspots_table_and_mask_geotiff(capsys, out, ds, tmp_path):
    values = ds["foreign_footprint"].values
    codes = ds["region_index"].attrs["flag_meanings"].split()
    producers = [codes.index(str(r)) for r in ds["region"].values]
    land = np.isin(ds["region_index"].values, producers)
    flat = np.sort(values[land])[::-1]
    k = int(np.argmax(np.cumsum(flat) / flat.sum() >= 0.9 * (1 - 1e-12))) + 1
    code, text, _ = run(capsys, out, "--hotspots", "--share", "0.9", "--top", "100000",
                        "--format", "csv")  # fmt: skip
    assert code == 0
    table = pd.read_csv(io.StringIO(text))
    assert len(table) == k
    np.testing.assert_allclose(table["t_co2"], flat[:k])
    target = tmp_path / "hot.tif"
    code, _, _ = run(capsys, out, "--hotspots", "--share", "0.9", "--format", "geotiff",
                     "--output", target)  # fmt: skip
    assert code == 0
    with rasterio.open(target) as src:
        mask = src.read(1)
        assert src.dtypes[0] == "uint8" and src.crs == ds.rio.crs
    assert int(mask.sum()) == k
    assert values[mask == 1].min() >= flat[k - 1]
