"""The chunked region index equals the numpy oracle, for any chunking."""

import pickle

import dask
import numpy as np
import pytest
import rasterio.features
from helpers.region_shapes import ALBERS, square, unit_grid
from pyproj import CRS

from pipeline.grid import regions as regions_module
from pipeline.grid.region_blocks import rasterize_regions_lazy
from pipeline.grid.regions import (
    Regions,
    grid_covering,
    rasterize_regions,
    read_regions,
)
from pipeline.resources import data_file


@pytest.fixture(scope="module")
def china_10km():
    regions = read_regions(data_file("china_provinces.geojson"))
    return regions, grid_covering(regions, crs=ALBERS, resolution=10_000)


@pytest.mark.parametrize("chunks", [(512, 512), (97, 131), (430, 13), (1, 484)])
def test_china_equals_numpy_oracle(china_10km, chunks):
    regions, grid = china_10km
    lazy = rasterize_regions_lazy(regions, grid, chunks=chunks)
    assert lazy.chunks[0][0] == min(chunks[0], grid.shape[0])
    oracle = rasterize_regions(regions, grid)
    np.testing.assert_array_equal(lazy.compute(), oracle)
    # Macau and Hong Kong win no or few cell centres at 10 km: rule 3 must hold per chunk too
    for code in ("CN-MO", "CN-HK"):
        assert (oracle == regions.codes.index(code)).sum() >= 1


@pytest.mark.parametrize("chunks", [(4, 4), (1, 1), (3, 2)])
def test_small_region_claims_cross_chunk_edges(chunks):
    """A tiny region inside a big one takes the cell of its point; an islet a free cell."""
    regions = Regions(
        ("BIG", "TINY", "ISLE"),
        (square(0, 0, 3), square(1.1, 1.1, 0.3), square(3.1, 3.1, 0.2)),
        CRS.from_epsg(3857),
        "t",
    )
    grid = unit_grid()
    oracle = rasterize_regions(regions, grid)
    assert oracle[2, 1] == 1 and oracle[0, 3] == 2
    np.testing.assert_array_equal(rasterize_regions_lazy(regions, grid, chunks=chunks), oracle)


@pytest.mark.parametrize("tile", [1024, 100])
def test_layered_world_and_provinces_equal_oracle(tile, monkeypatch):
    """The whole world at 0.5 degrees, provinces layered over the countries.

    Its cell centres sit on the 0.25-degree lattice of the outlines' vertices, so
    some lie exactly on a boundary: with burn tiles of 100 cells and chunks that
    cut across them, those cells still fall as in the numpy index (burnt in the
    same tiles), whatever the chunking.
    """
    monkeypatch.setattr(regions_module, "BURN_TILE", tile)
    layered = read_regions(
        [data_file("world_countries.geojson"), data_file("china_provinces.geojson")],
        code_field=["iso3", "code"],
    )
    grid = grid_covering(layered, crs="EPSG:4326", resolution=0.5)
    lazy = rasterize_regions_lazy(layered, grid, chunks=(37, 53))
    np.testing.assert_array_equal(lazy.compute(), rasterize_regions(layered, grid))


def test_graph_holds_regions_once(china_10km):
    """The polygons are one graph node; the 25 chunk tasks refer to it, not copy it."""
    regions, grid = china_10km
    lazy = rasterize_regions_lazy(regions, grid, chunks=(100, 100))
    graph = dict(lazy.__dask_graph__())
    shared = [k for k in graph if str(k).startswith("Regions-")]
    assert len(shared) == 1 and lazy.numblocks == (5, 5)
    rest = {k: v for k, v in graph.items() if k not in shared}
    assert len(pickle.dumps(rest)) < len(pickle.dumps(regions)) / 10


def test_up_to_one_tile_the_burn_is_one_whole_grid_rasterize():
    """Grids of at most BURN_TILE cells a side burn exactly as rasterio does in one go."""
    layered = read_regions(
        [data_file("world_countries.geojson"), data_file("china_provinces.geojson")],
        code_field=["iso3", "code"],
    )
    grid = grid_covering(layered, crs="EPSG:4326", resolution=0.5)
    assert max(grid.shape) <= regions_module.BURN_TILE
    whole = rasterio.features.rasterize(
        [(g, i) for i, g in enumerate(layered.geometries)],
        out_shape=grid.shape,
        transform=grid.transform,
        fill=-1,
        dtype="int16",
    )
    window = (slice(0, grid.shape[0]), slice(0, grid.shape[1]))
    np.testing.assert_array_equal(regions_module.burn_window(layered, grid, window), whole)


def test_two_indexes_in_one_compute_keep_their_own_claims():
    """Distinct graphs get distinct keys: computing both together mixes nothing up."""
    grid = unit_grid()
    crs = CRS.from_epsg(3857)
    a = Regions(("BIG", "TINY"), (square(0, 0, 4), square(1.1, 1.1, 0.3)), crs, "a")
    b = Regions(("BIG", "TINY"), (square(0, 0, 4), square(2.1, 0.1, 0.3)), crs, "b")
    la, lb = (rasterize_regions_lazy(r, grid, chunks=2) for r in (a, b))
    assert la.name != lb.name
    got_a, got_b = dask.compute(la, lb)
    np.testing.assert_array_equal(got_a, rasterize_regions(a, grid))
    np.testing.assert_array_equal(got_b, rasterize_regions(b, grid))
    assert got_a[2, 1] == 1 and got_b[3, 2] == 1
