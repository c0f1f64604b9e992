"""One ordering rule for hotspots and cell rankings: densest first, ties in cell order."""

import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from pipeline.kernels.concentration import densest_first
from pipeline.results.api import Results

NY, NX = 8, 8


@pytest.fixture(scope="module")
def values():
    """Four values, sixteen cells each, shuffled: a layer full of ties."""
    v = np.repeat([3.0, 2.0, 1.0, 0.5], NY * NX // 4)
    np.random.default_rng(0).shuffle(v)
    return v.reshape(NY, NX)


@pytest.fixture(scope="module")
def results(values, tmp_path_factory):
    """A tiny in-memory store: one region holding every cell."""
    x = 100.5 + np.arange(NX)
    y = 40.5 - np.arange(NY)
    coords = {"y": y, "x": x}
    index = xr.DataArray(np.zeros((NY, NX), np.int16), dims=("y", "x"), coords=coords)
    index.attrs["flag_meanings"] = "R1"
    ds = xr.Dataset(
        {
            "foreign_footprint": xr.DataArray(values, dims=("y", "x"), coords=coords),
            "region_index": index,
        },
        coords={"region": ["R1"]},
    ).rio.write_crs("EPSG:4326")
    return Results(ds, tmp_path_factory.mktemp("store"))


def row_major_order(values: np.ndarray) -> np.ndarray:
    return np.argsort(-values.ravel(), kind="stable")


@pytest.mark.parametrize("top", [1, 5, 16, 20, 40, 63])
def test_rank_top_cells_are_the_head_of_the_full_ranking(results, values, top):
    table = results.rank("cell", top)
    whole = results.rank("cell", None)
    cells = table["row"].to_numpy() * NX + table["col"].to_numpy()
    np.testing.assert_array_equal(cells, row_major_order(values)[:top])
    np.testing.assert_array_equal(table[["row", "col"]], whole.head(top)[["row", "col"]])


def test_hotspots_follow_the_ranking_order(results, values):
    hot = results.hotspots(share=0.5)
    cells = hot.table["row"].to_numpy() * NX + hot.table["col"].to_numpy()
    np.testing.assert_array_equal(cells, row_major_order(values)[: len(cells)])
    ranked = results.rank("cell", len(cells))
    np.testing.assert_array_equal(hot.table[["row", "col"]], ranked[["row", "col"]])


@pytest.mark.parametrize("top", [None, 1, 7, 50, 200, 500])
def test_kernel_top_is_the_head_of_the_whole_order(top):
    rng = np.random.default_rng(1)
    v = rng.integers(0, 5, size=300).astype(float)
    land = np.flatnonzero(rng.random(300) < 0.7)
    for cells in (None, land):
        whole = densest_first(v, cells)
        np.testing.assert_array_equal(densest_first(v, cells, top=top), whole[:top])
        chosen = v[whole]
        assert np.all(np.diff(chosen) <= 0)
        ties = np.diff(chosen) == 0
        assert np.all(np.diff(whole)[ties] > 0)  # ties in cell order
