"""``footprint-map query`` end to end: each planned combination writes what it says.

Run on the coarse demo (Albers, 50 km) and on a study unlike it (Japan/Korea on
EPSG:4326, ``helpers.geographic_study``). References come from the store read
with plain xarray and pyproj, not from the results API. The refusals are in
``tests/unit/cli/test_query_plan.py``.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import rasterio
from helpers.stores import open_store
from matplotlib.colors import LogNorm
from pyproj import CRS, Transformer

from pipeline import open_results
from pipeline.cli.app import build_parser, main
from pipeline.cli.query_maps import query_figure
from pipeline.cli.query_plan import plan_query

STUDIES = {
    "demo": {"region": "CN-GD", "city": "Shanghai", "radius": 100.0, "typo": "CN-GDD"},
    "geo": {"region": "KOR", "city": "Osaka", "radius": 60.0, "typo": "KORR"},
}


@pytest.fixture(scope="module", params=sorted(STUDIES))
def study(request, shared_results, geographic_results):
    out = shared_results if request.param == "demo" else geographic_results
    ds = open_store(out / "footprint.zarr").load()
    codes = ds["region_index"].attrs["flag_meanings"].split()
    # the land: producer regions of the study country (also its domestic consumers)
    consumers, foreign = ds["consumer"].values, ds["foreign"].values
    domestic = {str(c) for c, f in zip(consumers, foreign, strict=True) if not f}
    land_codes = [codes.index(r) for r in map(str, ds["region"].values) if r in domestic]
    land = np.isin(ds["region_index"].values, land_codes)
    return {"out": out, "ds": ds, "codes": codes, "land": land, **STUDIES[request.param]}


def run(capsys, *argv):
    code = main(["query", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def figure(study, *options):
    args = build_parser().parse_args(["query", str(study["out"]), *options])
    return query_figure(open_results(study["out"]), args, plan_query(args))


def hotspot_count(study, share=0.75) -> tuple[int, np.ndarray]:
    values = study["ds"]["foreign_footprint"].values
    flat = np.sort(values[study["land"]])[::-1]
    k = int(np.argmax(np.cumsum(flat) / flat.sum() >= share * (1 - 1e-12))) + 1
    return k, flat[:k]


def cell_edges(ds, mask) -> tuple[float, float, float, float]:
    xs, ys = ds["x"].values[mask.any(axis=0)], ds["y"].values[mask.any(axis=1)]
    dx, dy = abs(np.diff(ds["x"].values[:2])[0]), abs(np.diff(ds["y"].values[:2])[0])
    return xs.min() - dx / 2, xs.max() + dx / 2, ys.min() - dy / 2, ys.max() + dy / 2


def pixel_cells(ds, image) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the store's cell under each pixel centre of a drawn image."""
    xmin, xmax, ymin, ymax = image.get_extent()
    ny, nx = image.get_array().shape
    px = xmin + (np.arange(nx) + 0.5) * (xmax - xmin) / nx
    py = ymax - (np.arange(ny) + 0.5) * (ymax - ymin) / ny
    cols = np.abs(ds["x"].values[None, :] - px[:, None]).argmin(axis=1)
    rows = np.abs(ds["y"].values[None, :] - py[:, None]).argmin(axis=1)
    return rows, cols


def disc_mask(ds, lon, lat, radius_km) -> np.ndarray:
    xx, yy = np.meshgrid(ds["x"].values, ds["y"].values)
    crs = CRS.from_user_input(ds.rio.crs)
    if not crs.is_geographic:
        xx, yy = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(xx, yy)
    _, _, distance = crs.get_geod().inv(np.full(xx.shape, lon), np.full(xx.shape, lat), xx, yy)
    return distance <= radius_km * 1000.0


# ------------------------------------------------------------------ tables
def test_hotspots_top_all_returns_every_hotspot_cell(capsys, study):
    k, expected = hotspot_count(study)
    code, text, err = run(capsys, study["out"], "--hotspots", "--top", "all", "--format", "csv")
    assert code == 0 and "showing" not in err
    table = pd.read_csv(io.StringIO(text))
    assert len(table) == k > 10
    np.testing.assert_allclose(table["t_co2"], expected, rtol=1e-12)
    code, text, err = run(capsys, study["out"], "--hotspots", "--format", "csv")
    assert len(pd.read_csv(io.StringIO(text))) == 10
    assert f"# showing 10 of {k:,} hotspot cells; --top all lists every one" in err


def test_cut_tables_say_showing_n_of_m(capsys, study):
    ds = study["ds"]
    code, text, _ = run(capsys, study["out"], "--by", "province", "--top", "2")
    assert code == 0
    assert f"# showing 2 of {len(study['codes'])} regions of the raster" in text
    code, text, _ = run(capsys, study["out"], "--by", "province", "--top", "all")
    assert "showing" not in text and len(text.splitlines()) == 2 + len(study["codes"])
    argv = ["--region", study["region"], "--group", "consumer", "--top", "3", "--format", "json"]
    code, text, err = run(capsys, study["out"], *argv)
    assert f"# showing 3 of {ds.sizes['consumer']} rows" in err
    assert text.count('"consumer"') == 3


def test_mistyped_codes_get_the_closest(capsys, study):
    code, _, err = run(capsys, study["out"], "--consumer", "USAA")
    assert code == 2 and "did you mean USA" in err and err.count("\n") == 1
    code, _, err = run(capsys, study["out"], "--region", study["typo"], "--format", "csv")
    assert code == 2 and f"did you mean {study['region']}" in err


# -------------------------------------------------------------------- maps
def test_province_png_is_a_choropleth_not_the_cell_map(capsys, study, tmp_path):
    ds = study["ds"]
    fig = figure(study, "--by", "province", "--format", "png", "--output", "p.png")
    (image,) = [im for im in fig.axes[0].images if isinstance(im.norm, LogNorm)]
    rows, cols = pixel_cells(ds, image)
    index = ds["region_index"].values[np.ix_(rows, cols)]
    totals = {n: ds["foreign_footprint"].values[ds["region_index"].values == n].sum()
              for n in np.unique(index)}  # fmt: skip
    data = image.get_array()
    on_land = ~np.ma.getmaskarray(data) & study["land"][np.ix_(rows, cols)]
    positive = on_land & (np.vectorize(totals.get)(index) > 0)
    assert positive.sum() > 50
    np.testing.assert_allclose(data[positive], np.vectorize(totals.get)(index)[positive], rtol=1e-9)
    assert np.ma.getmaskarray(data)[~study["land"][np.ix_(rows, cols)]].all()  # no-data class
    plt.close(fig)
    paths = [tmp_path / "cells.png", tmp_path / "provinces.png"]
    assert run(capsys, study["out"], "--format", "png", "--output", paths[0])[0] == 0
    argv = ["--by", "province", "--format", "png", "--output", paths[1]]
    assert run(capsys, study["out"], *argv)[0] == 0
    assert paths[0].read_bytes() != paths[1].read_bytes()


def test_region_png_is_framed_on_the_region(study):
    ds = study["ds"]
    code = study["codes"].index(study["region"])
    xmin, xmax, ymin, ymax = cell_edges(ds, ds["region_index"].values == code)
    fig = figure(study, "--region", study["region"], "--format", "png", "--output", "r.png")
    (x0, x1), (y0, y1) = fig.axes[0].get_xlim(), fig.axes[0].get_ylim()
    margin_x, margin_y = 0.08 * (xmax - xmin), 0.08 * (ymax - ymin)
    assert (x0, x1, y0, y1) == pytest.approx(
        (xmin - margin_x, xmax + margin_x, ymin - margin_y, ymax + margin_y)
    )
    assert cell_edges(ds, study["land"]) != pytest.approx((x0, x1, y0, y1))
    plt.close(fig)


def test_region_geotiff_is_the_layer_cropped_to_the_region(capsys, study, tmp_path):
    ds = study["ds"]
    inside = ds["region_index"].values == study["codes"].index(study["region"])
    target = tmp_path / "region.tif"
    argv = ["--region", study["region"], "--consumer", "USA", "--format", "geotiff"]
    assert run(capsys, study["out"], *argv, "--output", target)[0] == 0
    with rasterio.open(target) as src:
        band, bounds = src.read(1), src.bounds
        assert src.crs == ds.rio.crs
    xmin, xmax, ymin, ymax = cell_edges(ds, inside)
    assert (bounds.left, bounds.right, bounds.bottom, bounds.top) == pytest.approx(
        (xmin, xmax, ymin, ymax)
    )
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    window = np.ix_(rows, cols)
    usa = ds["footprint"].sel(consumer="USA").values[window]
    np.testing.assert_array_equal(band[inside[window]], usa[inside[window]])
    assert np.isnan(band[~inside[window]]).all()


def test_city_png_and_geotiff_cover_the_disc(capsys, study, tmp_path):
    ds, radius = study["ds"], study["radius"]
    cities = open_results(study["out"]).cities.set_index("name")
    lon, lat = cities.loc[study["city"], ["lon", "lat"]].astype(float)
    disc = disc_mask(ds, lon, lat, radius)
    target = tmp_path / "city.tif"
    argv = ["--city", study["city"], "--radius-km", radius, "--format", "geotiff"]
    assert run(capsys, study["out"], *argv, "--output", target)[0] == 0
    with rasterio.open(target) as src:
        band = src.read(1)
    assert np.isfinite(band).sum() == disc.sum() > 0
    expected = np.sort(ds["foreign_footprint"].values[disc])
    np.testing.assert_array_equal(np.sort(band[np.isfinite(band)]), expected)
    options = ["--city", study["city"], "--radius-km", str(radius), "--format", "png"]
    fig = figure(study, *options, "--output", "c.png")
    x0, x1 = fig.axes[0].get_xlim()
    circle = fig.axes[0].lines[-1].get_xdata()
    assert x0 < circle.min() < circle.max() < x1
    plt.close(fig)


def test_hotspot_png_has_two_classes_and_a_legend(study):
    k, _ = hotspot_count(study)
    fig = figure(study, "--hotspots", "--format", "png", "--output", "h.png")
    ax = fig.axes[0]
    assert len(fig.axes) == 1  # no colour bar
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith(f"hotspot: the {k:,} densest land cells, holding 75%")
    assert labels[1] == "other land cells"
    classes = np.asarray(ax.images[0].get_array())
    assert set(np.unique(classes)) <= {0, 1, 2}
    assert int((classes == 2).sum()) == k  # one pixel per cell at this resolution
    assert int((classes >= 1).sum()) == int(study["land"].sum())
    plt.close(fig)


def test_city_png_draws_the_ranked_cities(capsys, study):
    argv = ["--by", "city", "--top", "5", "--radius-km", str(study["radius"]), "--format", "csv"]
    table = pd.read_csv(io.StringIO(run(capsys, study["out"], *argv[:-2], "--format", "csv")[1]))
    fig = figure(study, *argv[:-2], "--format", "png", "--output", "c.png")
    dots = fig.axes[0].collections[0]
    positive = table[table["t_co2"] > 0]
    np.testing.assert_allclose(np.sort(dots.get_array()), np.sort(positive["t_co2"]))
    assert len(dots.get_offsets()) == len(positive) > 0
    plt.close(fig)
