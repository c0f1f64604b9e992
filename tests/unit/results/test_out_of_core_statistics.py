"""Every out-of-core statistic of Results and the summary equals the in-memory oracle.

The oracle is :mod:`pipeline.kernels.concentration` on numpy copies of the layers
(one sort of the land cells, ties in row-major order), and plain numpy and
pyproj for the per-region and per-city sums. The stores are lazy (dask), on a
lat/lon grid (row areas differ) and a projected one, with a layer full of ties;
``max_gather`` is made small to force refinement passes.
"""

from __future__ import annotations

import functools

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import Geod, Transformer

from pipeline.grid import threshold_blocks
from pipeline.kernels.concentration import (
    cells_holding_share,
    concentration_curve,
    densest_first,
    land_share_holding,
)
from pipeline.results import summary as summary_mod
from pipeline.results.api import Results
from pipeline.results.places import place_attrs

NY, NX = 48, 64
CODES = ["R1", "R2", "HK", "X"]  # HK and X have no MRIO rows: not land
PRODUCERS = ["R1", "R2"]
CONSUMERS = ["A", "B", "R1", "R2"]
FOREIGN = [True, True, False, False]
SECTORS = ["power", "cement"]
SHARES = (0.5, 0.75, 0.9, 1.0)
CITIES = pd.DataFrame(
    {
        "geonameid": [1, 2, 3, 4],
        "name": ["Alpha", "Beta", "Gamma", "Far"],
        "lat": [31.2, 27.05, 33.0, -60.0],
        "lon": [104.3, 110.0, 112.7, 10.0],
        "population": [10, 20, 30, 40],
        "province": ["R1", "R2", "R1", "X"],
    }
)


def layers(seed: int) -> dict[str, np.ndarray]:
    """Four ``(NY, NX)`` layers: skewed, ties, a wide dynamic range, and mostly zero."""
    rng = np.random.default_rng(seed)
    shape = (NY, NX)
    return {
        "gamma": rng.gamma(0.3, 1e3, shape) * (rng.random(shape) < 0.7),
        "ties": rng.integers(0, 4, shape).astype(float),
        "wide": 10.0 ** rng.uniform(-20, 20, shape),
        "sparse": np.where(rng.random(shape) < 0.05, rng.gamma(2.0, 5.0, shape), 0.0),
    }


def region_index(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    index = (np.arange(NY)[:, None] // 12 + np.arange(NX)[None, :] // 16) % 4
    index = np.where(rng.random((NY, NX)) < 0.1, -1, index)
    return index.astype(np.int16)


def make_store(tmp_path, crs: str, seed: int) -> tuple[xr.Dataset, dict]:
    """A lazy store (3 x 3 uneven chunks) and its numpy layers."""
    found = layers(seed)
    if crs == "EPSG:4326":
        x, y = 100.125 + 0.25 * np.arange(NX), 35.875 - 0.25 * np.arange(NY)
    else:  # a projected grid: 25 km cells
        x, y = 11.0e6 + 25e3 * (np.arange(NX) + 0.5), 3.6e6 - 25e3 * (np.arange(NY) + 0.5)
    coords = {"y": y, "x": x}
    chunks = (20, 24)

    def lazy(values, dims=("y", "x")):
        return xr.DataArray(
            da.from_array(values, chunks=(1,) * (values.ndim - 2) + chunks), dims=dims
        )

    names = list(found)
    stack = np.stack([found[n] for n in names])
    index = xr.DataArray(da.from_array(region_index(seed), chunks=chunks), dims=("y", "x"))
    index.attrs.update(flag_meanings=" ".join(CODES), producer_of_code=[0, 1, -1, -1])
    ds = xr.Dataset(
        {
            "foreign_footprint": lazy(found["gamma"]),
            "footprint": lazy(stack, ("consumer", "y", "x")),
            "footprint_by_sector": lazy(stack[:2], ("sector", "y", "x")),
            "region_index": index,
        },
        coords={
            **coords,
            "consumer": CONSUMERS,
            "foreign": ("consumer", FOREIGN),
            "sector": SECTORS,
            "category": ["households"],
            "region": PRODUCERS,
        },
    ).rio.write_crs(crs)
    cities = tmp_path / "cities.csv"
    CITIES.to_csv(cities, index=False)
    ds.attrs.update(place_attrs(boundaries=None, code_field="code", cities=cities))
    selections = {"gamma": {}, "ties": {"consumer": "B"}, "wide": {"consumer": "R1"}}
    selections["sparse"] = {"consumer": "R2"}
    return ds, {n: (found[n], selections[n]) for n in names}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny graphs: the synchronous scheduler is the fastest (results do not depend on it)."""
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module", params=[("EPSG:4326", 1), ("EPSG:3857", 2)])
def store(request, tmp_path_factory):
    crs, seed = request.param
    ds, found = make_store(tmp_path_factory.mktemp("store"), crs, seed)
    res = Results(ds, tmp_path_factory.mktemp("out"))
    res._max_gather = 5  # force refinement passes
    land = np.isin(region_index(seed), [0, 1])
    return res, found, land


def oracle(values: np.ndarray, land: np.ndarray, share: float):
    """The in-memory hotspots: the land cells densest first and how many hold ``share``."""
    order = densest_first(values, np.flatnonzero(land.ravel()))
    return order, cells_holding_share(np.cumsum(values.ravel()[order]), share)


def test_the_stores_have_what_the_tests_need(store):
    res, found, land = store
    assert res.grid.geographic == (res.ds.rio.crs.to_epsg() == 4326)
    if res.grid.geographic:
        assert np.ptp(res.row_area_km2) > 0.01 * res.row_area_km2.mean()  # areas differ
    assert isinstance(res.layer(consumer="B").data, da.Array)
    assert 0 < land.sum() < land.size


@pytest.mark.parametrize("name", ["gamma", "ties", "wide", "sparse"])
def test_hotspots_are_the_in_memory_hotspots(store, name):
    res, found, land = store
    values, selection = found[name]
    for share in SHARES:
        order, k = oracle(values, land, share)
        hot = res.hotspots(**selection, share=share)
        assert isinstance(hot.mask.data, da.Array)
        expected = np.zeros(values.size, bool)
        expected[order[:k]] = True
        np.testing.assert_array_equal(hot.mask.values.ravel(), expected)
        table = hot.table
        np.testing.assert_array_equal(table["row"] * NX + table["col"], order[:k])
        np.testing.assert_array_equal(table["t_co2"], values.ravel()[order[:k]])
        index = region_index(store_seed(res)).ravel()[order[:k]]
        assert list(table["region"]) == [CODES[i] for i in index]
        np.testing.assert_allclose(
            table["share"], values.ravel()[order[:k]] / values.sum(), rtol=1e-12
        )
        assert hot.land_share == k / land.sum() == land_share_holding(values[land], share)
        rows = order[:k] // NX
        assert hot.area_km2 == pytest.approx(res.row_area_km2[rows].sum(), rel=1e-12)


def store_seed(res) -> int:
    return 1 if res.grid.geographic else 2


def cell_areas(res) -> np.ndarray:
    return np.broadcast_to(res.row_area_km2[:, None], (NY, NX)).ravel()


@pytest.mark.parametrize("name", ["gamma", "ties", "wide", "sparse"])
def test_concentration_is_the_in_memory_count(store, name):
    res, found, land = store
    values, selection = found[name]
    areas = cell_areas(res)
    for share in SHARES:
        order, k = oracle(values, land, share)
        stats = res.concentration(**selection, share=share)
        assert (stats["cells"], stats["land_cells"]) == (k, land.sum())
        assert stats["land_share"] == land_share_holding(values[land], share)
        assert stats["area_km2"] == pytest.approx(areas[order[:k]].sum(), rel=1e-12)
        assert stats["land_area_km2"] == pytest.approx(areas[land.ravel()].sum(), rel=1e-12)
        assert stats["total_t"] == pytest.approx(values[land].sum(), rel=1e-12)


def test_concentration_table_is_the_in_memory_count(store):
    res, found, land = store
    table = res.concentration_table(SHARES, consumers=["B"]).set_index("code")
    assert list(table.index) == ["foreign", "B", "power", "cement"]
    assert list(table["kind"]) == ["total", "consumer", "sector", "sector"]
    layer_of = {"foreign": "gamma", "B": "ties", "power": "gamma", "cement": "ties"}
    for code, name in layer_of.items():
        values = found[name][0]
        assert table.loc[code, "total_t"] == pytest.approx(values[land].sum(), rel=1e-12)
        for share in SHARES:
            order, k = oracle(values, land, share)
            pct = round(share * 100)
            assert table.loc[code, f"land_share_{pct}pct"] == k / land.sum()
            assert table.loc[code, f"area_km2_{pct}pct"] == pytest.approx(
                cell_areas(res)[order[:k]].sum(), rel=1e-12
            )


@pytest.mark.parametrize("name", ["gamma", "ties", "sparse"])
def test_rank_cells_is_the_head_of_the_in_memory_order(store, name):
    res, found, _ = store
    values, selection = found[name]
    for top in (1, 7, 100, None):
        table = res.rank("cell", top, **selection)
        expected = densest_first(values, top=top)
        np.testing.assert_array_equal(table["row"] * NX + table["col"], expected)
        np.testing.assert_array_equal(table["t_co2"], values.ravel()[expected])
        index = region_index(store_seed(res)).ravel()[expected]
        assert list(table["region"]) == [CODES[i] if i >= 0 else "" for i in index]
        assert table["cumulative_share"].iloc[-1] == pytest.approx(
            values.ravel()[expected].sum() / values.sum(), rel=1e-12
        )


def test_rank_provinces_are_the_numpy_region_sums(store):
    res, found, _ = store
    values, selection = found["wide"]
    index = region_index(store_seed(res))
    areas = np.broadcast_to(res.row_area_km2[:, None], values.shape)
    table = res.rank("province", None, **selection).set_index("province")
    assert list(table.index) == sorted(CODES, key=lambda c: -values[index == CODES.index(c)].sum())
    for n, code in enumerate(CODES):
        assert table.loc[code, "t_co2"] == pytest.approx(values[index == n].sum(), rel=1e-12)
        assert table.loc[code, "cells"] == (index == n).sum()
        assert table.loc[code, "area_km2"] == pytest.approx(areas[index == n].sum(), rel=1e-12)
        assert table.loc[code, "share"] == pytest.approx(
            values[index == n].sum() / values.sum(), rel=1e-12
        )


def geodesic_discs(res, radius_km: float) -> dict[str, np.ndarray]:
    xx, yy = np.meshgrid(res.ds["x"].values, res.ds["y"].values)
    if not res.grid.geographic:
        to_lonlat = Transformer.from_crs(res.ds.rio.crs, "EPSG:4326", always_xy=True)
        xx, yy = to_lonlat.transform(xx, yy)
    discs = {}
    for _, city in CITIES.iterrows():
        _, _, distance = Geod(ellps="WGS84").inv(
            np.full(xx.shape, city["lon"]), np.full(xx.shape, city["lat"]), xx, yy
        )
        discs[city["name"]] = distance <= radius_km * 1000.0
    return discs


@pytest.mark.parametrize("radius_km", [30.0, 120.0])
def test_rank_cities_are_the_numpy_disc_sums(store, radius_km):
    res, found, land = store
    values, selection = found["gamma"]
    discs = geodesic_discs(res, radius_km)
    table = res.rank("city", None, **selection, radius_km=radius_km).set_index("city")
    kept = [name for name, disc in discs.items() if (disc & land).any()]
    assert kept and "Far" not in kept
    assert set(table.index) >= set(kept)
    for name in kept:
        assert table.loc[name, "cells"] == discs[name].sum()
        assert table.loc[name, "t_co2"] == pytest.approx(values[discs[name]].sum(), rel=1e-12)
    assert table["t_co2"].is_monotonic_decreasing


@pytest.mark.parametrize("name", ["gamma", "ties", "wide"])
def test_concentration_curve_whole_and_sampled(store, name):
    res, found, land = store
    values, selection = found[name]
    full_land, full_emitted = concentration_curve(values[land])
    whole = res.concentration_curve(**selection)
    np.testing.assert_allclose(whole["land_share"], full_land)
    np.testing.assert_allclose(whole["emission_share"], full_emitted, rtol=1e-12)
    sampled = res.concentration_curve(**selection, points=40)
    rows = np.rint(sampled["land_share"].to_numpy() * land.sum()).astype(int)
    np.testing.assert_allclose(sampled["emission_share"], full_emitted[rows], rtol=1e-12)
    between = np.interp(full_land, sampled["land_share"], sampled["emission_share"])
    assert np.abs(between - full_emitted).max() <= 1 / 80


def summary_cube(res, values: np.ndarray) -> xr.Dataset:
    """``summarize``'s input: the lazy layer, and an attribution of the four consumers."""
    rng = np.random.default_rng(0)
    attribution = xr.DataArray(
        rng.random((2, 2, 4, 1)),
        dims=("region", "sector", "consumer", "category"),
        coords={k: res.ds[k] for k in ("region", "sector", "consumer", "category", "foreign")},
    )
    lazy = da.from_array(values, chunks=(20, 24))
    return res.ds.assign(attribution=attribution, foreign_footprint=(("y", "x"), lazy))


@pytest.mark.parametrize("name", ["gamma", "ties", "wide", "sparse"])
def test_summary_land_shares_are_the_in_memory_exact_ones(store, name, monkeypatch):
    res, found, land = store
    values = found[name][0]
    for max_gather in (3, threshold_blocks.MAX_GATHER):
        limited = functools.partial(threshold_blocks.cells_holding, max_gather=max_gather)
        monkeypatch.setattr(summary_mod, "cells_holding", limited)
        result = summary_mod.summarize(
            summary_cube(res, values),
            land_mask=res.ds["region_index"].isin([0, 1]),
            conservation_error=0.0,
            hotspot_share=0.6,
        )
        assert result["land_cells"] == land.sum()
        for share, key in ((0.75, "75pct"), (0.9, "90pct"), (0.6, "60pct")):
            assert result[f"land_share_for_{key}"] == land_share_holding(values[land], share)
