"""Zonal statistics on whole runs: the Albers demo and the lat/lon Japan/Korea study.

The reference for a polygon cutting cells is computed here without the
package's geometry: the zone's vertices reprojected with pyproj, and every
cell box (edges from the store's cell centres) intersected with it in shapely
(:func:`helpers.zone_files.coverage_weighted_sum`). Layer values come from the
store read with plain xarray.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import shapely
from helpers.geographic_study import build_study
from helpers.stores import open_store
from helpers.zone_files import coverage_weighted_sum, ring, write_zones
from pyproj import CRS, Transformer

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.results.api import Results

SUFFIXES = [".geojson", ".shp", ".gpkg"]


@pytest.fixture(scope="module")
def demo(shared_results):
    """The coarse demo (50 km Albers): its results and its store in memory."""
    return open_results(shared_results), open_store(shared_results / "footprint.zarr").load()


@pytest.fixture(scope="module")
def geo(tmp_path_factory):
    """The Japan/Korea study on EPSG:4326 (0.25 degree)."""
    out, _ = build_study(tmp_path_factory.mktemp("geographic-zonal"))
    return open_results(out), open_store(out / "footprint.zarr").load()


def cells_block(ds, r0: int, r1: int, c0: int, c1: int):
    """The polygon of rows r0..r1-1 and columns c0..c1-1, edges from the store's centres."""
    x, y = ds["x"].values, ds["y"].values
    dx, dy = x[1] - x[0], y[0] - y[1]
    return shapely.box(x[c0] - dx / 2, y[r1 - 1] - dy / 2, x[c1 - 1] + dx / 2, y[r0] + dy / 2)


def reprojected(polygon, src, dst):
    """``polygon``'s vertices moved from ``src`` to ``dst`` (its edges short: none is split)."""
    step = 0.05 if CRS.from_user_input(src).is_geographic else 5_000.0
    assert shapely.segmentize(polygon, step).equals_exact(polygon, 0)
    move = Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(polygon, lambda xy: np.column_stack(move.transform(*xy.T)))


@pytest.mark.parametrize("study", ["demo", "geo"])
def test_a_polygon_on_cell_edges_is_the_sum_of_its_cells(study, request, tmp_path):
    res, ds = request.getfixturevalue(study)
    blocks = {"wide": (10, 30, 20, 60), "one": (40, 41, 60, 61)}
    if study == "geo":
        blocks = {"honshu": (20, 40, 70, 95), "one": (33, 34, 86, 87)}
    polygons = [cells_block(ds, *b) for b in blocks.values()]
    path = write_zones(tmp_path / "edges.gpkg", list(blocks), polygons, crs=ds.rio.crs.to_wkt())
    consumer = "USA"
    table = res.zonal(path, consumer=consumer)
    values = ds["footprint"].sel(consumer=consumer).values
    for n, (r0, r1, c0, c1) in enumerate(blocks.values()):
        expected = values[r0:r1, c0:c1].sum()
        assert expected > 0
        assert table["t_co2"][n] == pytest.approx(expected, rel=1e-9)
        assert table["share"][n] == pytest.approx(expected / values.sum(), rel=1e-9)
    assert table.attrs["warnings"] == []


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_lonlat_zones_on_the_albers_demo_match_shapely(demo, tmp_path, suffix):
    res, ds = demo
    zones = {  # vertices 0.01-0.03 degree apart: reprojecting them needs no densifying
        "central": ring(113.0, 30.0, 3.0, 2.5, 720),
        "coast": ring(120.2, 30.4, 1.1, 0.9, 300, wobble=0.3),
    }
    path = write_zones(tmp_path / f"z{suffix}", list(zones), list(zones.values()))
    table = res.zonal(path, field="name", layers=[{}, {"consumer": "USA"}])
    assert list(table["zone"]) == list(zones)
    x, y = ds["x"].values, ds["y"].values
    for n, polygon in enumerate(zones.values()):
        albers = reprojected(polygon, "EPSG:4326", ds.rio.crs.to_wkt())
        for label, values in (
            ("foreign", ds["foreign_footprint"].values),
            ("USA", ds["footprint"].sel(consumer="USA").values),
        ):
            expected = coverage_weighted_sum(values, x, y, albers)
            assert table[f"t_co2_{label}"][n] == pytest.approx(expected, rel=1e-6)
            assert table[f"share_{label}"][n] == pytest.approx(expected / values.sum(), rel=1e-6)
        assert table["area_km2"][n] == pytest.approx(albers.area / 1e6, rel=1e-6)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_web_mercator_zones_on_the_latlon_study_match_shapely(geo, tmp_path, suffix):
    res, ds = geo
    zones = {  # 2-4 km between vertices: no densifying
        "kanto": ring(15.55e6, 4.26e6, 2.0e5, 1.6e5, 600),
        "kansai": ring(15.08e6, 4.12e6, 1.2e5, 1.0e5, 500, wobble=0.3),
    }
    path = write_zones(tmp_path / f"m{suffix}", list(zones), list(zones.values()), crs="EPSG:3857")
    table = res.zonal(path)
    values = ds["foreign_footprint"].values
    for n, polygon in enumerate(zones.values()):
        lonlat = reprojected(polygon, "EPSG:3857", "EPSG:4326")
        expected = coverage_weighted_sum(values, ds["x"].values, ds["y"].values, lonlat)
        assert expected > 0
        assert table["t_co2"][n] == pytest.approx(expected, rel=1e-6)


def test_several_layers_and_other_chunkings(demo, tmp_path):
    res, ds = demo
    zones = {"a": ring(113.0, 30.0, 3.0, 2.5, 720), "b": ring(104.0, 31.0, 2.0, 2.0, 600)}
    path = write_zones(tmp_path / "z.geojson", list(zones), list(zones.values()))
    layers = [{"consumer": "USA"}, {"consumer": "JPN", "category": "households"}, {}]
    table = res.zonal(path, layers=layers)
    computed = res.layer(consumer="JPN", category="households").values
    albers = reprojected(zones["b"], "EPSG:4326", ds.rio.crs.to_wkt())
    expected = coverage_weighted_sum(computed, ds["x"].values, ds["y"].values, albers)
    assert table["t_co2_JPN_households"][1] == pytest.approx(expected, rel=1e-6)
    columns = [c for c in table.columns if c.startswith(("t_co2", "share"))]
    assert len(columns) == 6
    for chunks in ({"y": 13, "x": 17}, {"y": 87, "x": 5}, {"y": 1}):
        other = Results(res.ds.chunk(chunks), res.directory).zonal(path, layers=layers)
        np.testing.assert_allclose(other[columns], table[columns], rtol=1e-12, atol=0)


# ------------------------------------------------------------------ the CLI
def zonal(capsys, *argv):
    code = main(["zonal", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def zones_file(tmp_path_factory):
    zones = {
        "central": ring(113.0, 30.0, 3.0, 2.5, 720),
        "atlantic": shapely.box(-40.0, 10.0, -30.0, 20.0),  # outside the grid
    }
    path = tmp_path_factory.mktemp("zones") / "zones.gpkg"
    return write_zones(path, list(zones), list(zones.values()))


def test_cli_prints_every_format_and_warns_about_zones_outside(
    capsys, demo, shared_results, zones_file, tmp_path
):
    res, _ = demo
    expected = res.zonal(zones_file, consumer="USA")
    code, text, err = zonal(
        capsys, shared_results, "--zones", zones_file, "--consumer", "USA", "--format", "csv"
    )
    assert code == 0
    frame = pd.read_csv(io.StringIO(text))
    assert list(frame.columns) == ["zone", "t_co2", "share", "area_km2"]
    np.testing.assert_allclose(frame["t_co2"], expected["t_co2"], rtol=1e-12)
    assert frame["t_co2"][1] == 0.0
    assert err == (
        f"warning: zone 'atlantic' (feature 1 of {zones_file}) lies entirely outside "
        "the grid; its total is 0 t\n"
    )
    code, text, _ = zonal(
        capsys,
        shared_results,
        "--zones",
        zones_file,
        "--format",
        "json",
        "--consumer",
        "USA,JPN",
        "--sector",
        "power",
    )
    records = json.loads(text)
    assert code == 0 and set(records[0]) == {
        "zone",
        "t_co2_USA_power",
        "share_USA_power",
        "t_co2_JPN_power",
        "share_JPN_power",
        "area_km2",
    }
    usa_power = res.zonal(zones_file, consumer="USA", sector="power")
    assert records[0]["t_co2_USA_power"] == pytest.approx(usa_power["t_co2"][0], rel=1e-12)
    out = tmp_path / "z.parquet"
    code, _, err = zonal(capsys, shared_results, "--zones", zones_file, "--output", out)
    assert code == 0 and f"wrote {out}" in err
    written = pd.read_parquet(out)
    np.testing.assert_allclose(written["t_co2"], res.zonal(zones_file)["t_co2"], rtol=1e-12)
    code, text, _ = zonal(capsys, shared_results, "--zones", zones_file)
    assert code == 0 and text.splitlines()[0].split() == ["zone", "t_co2", "share", "area_km2"]


def bad_files(tmp_path):
    (tmp_path / "junk.gpkg").write_bytes(b"\x00junk" * 50)
    (tmp_path / "points.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "p"},
                        "geometry": {"type": "Point", "coordinates": [113, 30]},
                    }
                ],
            }
        )
    )
    (tmp_path / "empty.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--zones", "{tmp}/missing.gpkg"],
            "{tmp}/missing.gpkg: zones file not found; check --zones",
        ),
        (["--zones", "{tmp}/junk.gpkg"], "{tmp}/junk.gpkg: cannot read the zones file"),
        (["--zones", "{tmp}/points.geojson"], "is a Point, not a polygon"),
        (["--zones", "{tmp}/empty.geojson"], "{tmp}/empty.geojson: the zones file holds no polyg"),
        (["--zones", "{zones}", "--field", "nmae"], "(--field); did you mean 'name'?"),
        (["--zones", "{zones}", "--consumer", "USB"], "unknown consumer 'USB'; did you mean USA"),
        (
            ["--zones", "{zones}", "--format", "parquet"],
            "--format parquet writes a file; add --out",
        ),
        ([], "--zones FILE is required"),
        (
            ["--zones", "{zones}", "--scenario", "high"],
            "{out}: no scenario 'high'; found ['bri_shift', 'us_tariff_25'] (declare it in "
            "the study's [[scenario]] tables",
        ),
    ],
)
def test_cli_bad_input_is_one_error_line(
    capsys, shared_results, zones_file, tmp_path, args, message
):
    where = {"tmp": bad_files(tmp_path), "zones": zones_file, "out": shared_results}
    code, text, err = zonal(capsys, shared_results, *[a.format(**where) for a in args])
    assert code == 2 and text == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message.format(**where) in err


def test_cli_reads_a_scenario_directory_when_there_is_one(
    capsys, shared_results, zones_file, tmp_path
):
    import shutil

    baseline = tmp_path / "results"
    shutil.copytree(shared_results, baseline, symlinks=True)
    scenario = baseline / "scenarios" / "same"
    shutil.copytree(shared_results, scenario, symlinks=True)
    code, text, _ = zonal(
        capsys, baseline, "--zones", zones_file, "--scenario", "same", "--format", "csv"
    )
    assert code == 0
    expected = open_results(shared_results).zonal(zones_file)
    np.testing.assert_allclose(
        pd.read_csv(io.StringIO(text))["t_co2"], expected["t_co2"], rtol=1e-12
    )


# ------------------------------------------------------------- city polygons
CITY_POLYGONS = {  # EPSG:4326; the cities' GeoNames points lie inside
    "Shanghai": ring(121.45, 31.2, 0.6, 0.5, 400),
    "Beijing": ring(116.4, 39.9, 0.7, 0.6, 400),
    "Chongqing": ring(106.55, 29.56, 0.5, 0.45, 300),
}


@pytest.fixture(scope="module")
def city_run(shared_results, tmp_path_factory):
    """The coarse demo run again with [regions] city_polygons (a GeoPackage, field "name_en")."""
    from helpers.demo_inputs import demo_config

    from pipeline.workflow.run import run_study

    root = tmp_path_factory.mktemp("city-polygons")
    path = root / "cities.gpkg"
    write_zones(path, list(CITY_POLYGONS), list(CITY_POLYGONS.values()), field="name_en")
    config = demo_config(
        shared_results.parent / "inputs",
        output__maps=False,
        regions__city_polygons={"path": str(path), "field": "name_en"},
    )
    run_study(config, root / "out", echo=lambda *_: None)
    return root / "out", path


def test_rank_by_city_ranks_the_city_polygons(city_run, capsys):
    out, path = city_run
    res = open_results(out)
    ds = open_store(out / "footprint.zarr").load()
    table = res.rank(by="city", top=None, consumer="USA")
    assert list(table.columns) == ["city", "t_co2", "share", "area_km2"]
    assert set(table["city"]) == set(CITY_POLYGONS)
    assert list(table["t_co2"]) == sorted(table["t_co2"], reverse=True)
    values = ds["footprint"].sel(consumer="USA").values
    for name, polygon in CITY_POLYGONS.items():
        albers = reprojected(polygon, "EPSG:4326", ds.rio.crs.to_wkt())
        expected = coverage_weighted_sum(values, ds["x"].values, ds["y"].values, albers)
        row = table.set_index("city").loc[name]
        assert row["t_co2"] == pytest.approx(expected, rel=1e-6)
        assert row["share"] == pytest.approx(expected / values.sum(), rel=1e-6)
    assert "3 city polygons of cities.gpkg" in table.attrs["note"]
    code = main(["query", str(out), "--by", "city", "--consumer", "USA", "--format", "csv"])
    captured = capsys.readouterr()
    assert code == 0 and "3 city polygons of cities.gpkg" in captured.err
    frame = pd.read_csv(io.StringIO(captured.out))
    np.testing.assert_allclose(frame["t_co2"], table["t_co2"], rtol=1e-12)


def test_without_city_polygons_cities_stay_discs(demo):
    res, _ = demo
    table = res.rank(by="city", top=3)
    assert "cells" in table.columns and "geonameid" in table.columns
    assert "within 25 km" in table.attrs["note"]
