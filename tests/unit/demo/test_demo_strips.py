"""The demo inventory generated strip by strip equals a whole-grid generation, bit for bit."""

import numpy as np
import pandas as pd
import pytest
import rasterio
from scipy.ndimage import gaussian_filter

from pipeline.demo.build import ALBERS_CHINA, region_index, write_inventory
from pipeline.demo.inventory import DEMO_SECTORS, SectorPattern, region_scales, sector_source
from pipeline.demo.parameters import PROVINCES
from pipeline.demo.strips import (
    RawSource,
    cell_counts,
    layer_strips,
    raw_strip,
    region_sums,
    strip_rows,
    strips,
)
from pipeline.grid.regions import grid_covering, rasterize_regions, read_regions
from pipeline.resources import data_file

#: 1 row, odd heights, one tile, and more rows than the grid (one strip).
HEIGHTS = [1, 5, 64, 10_000]


@pytest.fixture(scope="module")
def china():
    """Real provinces and cities on a 25 km grid (172 x 194 cells)."""
    regions = read_regions(data_file("china_provinces.geojson"))
    grid = grid_covering(regions, crs=ALBERS_CHINA, resolution=25_000.0)
    cities = pd.read_csv(data_file("china_cities.csv"))
    totals = pd.Series(np.linspace(1e6, 4e7, len(PROVINCES)), index=list(PROVINCES))
    return regions, grid, rasterize_regions(regions, grid), cities, totals


def whole_grid(source: RawSource, index, totals, background, codes) -> np.ndarray:
    """Oracle: the demo's layer computed on the whole grid at once, as it was before strips."""
    raw = np.zeros(index.shape)
    np.add.at(raw, (source.rows, source.cols), source.weights)
    if source.sigma:
        raw = gaussian_filter(raw, sigma=source.sigma, mode="constant", truncate=3.0)
    n = len(codes)
    bins = np.where(index < 0, n, index).ravel()
    sums = np.bincount(bins, weights=raw.ravel(), minlength=n + 1)
    cells = np.bincount(bins, minlength=n + 1)
    scale, uniform = region_scales(totals, background, sums, cells, codes)
    return (raw.ravel() * scale[bins] + uniform[bins]).reshape(index.shape)


def assembled(source, index, scale, uniform, rows) -> np.ndarray:
    parts = list(layer_strips(source, index, scale, uniform, rows))
    assert [r0 for r0, _ in parts] == [r0 for r0, _ in strips(index.shape[0], rows)]
    return np.concatenate([part for _, part in parts])


def test_strip_bounds_and_heights():
    assert strips(10, 4) == [(0, 4), (4, 8), (8, 10)] and strips(3, 10) == [(0, 3)]
    assert strip_rows((4294, 4837)) == 768  # 1 km: whole 256-row tiles, about 4 M cells
    assert strip_rows((34344, 38692)) == 256 and strip_rows((430, 484)) == 8448
    with pytest.raises(ValueError, match="at least 1 row"):
        strips(10, 0)


def test_region_index_by_strips_equals_the_whole_grid_burn(china):
    regions, grid, index, *_ = china
    for rows in (7, 10_000):
        np.testing.assert_array_equal(region_index(regions, grid, rows), index)
    assert index.dtype == np.int16 and (index == PROVINCES.index("CN-XZ")).sum() > 1000


@pytest.mark.parametrize(
    "pattern",
    [
        DEMO_SECTORS["power"][1],  # plants
        DEMO_SECTORS["transport"][1],  # sigma 1.2 cells: halo 4 rows
        SectorPattern(kernel_km=200.0, background=0.1),  # sigma 8 cells: halo 24 rows
    ],
    ids=["plants", "density", "wide-kernel"],
)
def test_layer_by_strips_equals_whole_grid_bit_for_bit(china, pattern):
    regions, grid, index, cities, totals = china
    rng = np.random.default_rng(7)
    source = sector_source(
        totals.index,
        pattern,
        region_index=index,
        region_codes=regions.codes,
        cities=cities,
        grid=grid,
        rng=rng,
    )
    want = whole_grid(source, index, totals, pattern.background, regions.codes)
    n = len(regions.codes)
    cells = cell_counts(index, n, 3)
    np.testing.assert_array_equal(cells, np.bincount(np.where(index < 0, n, index).ravel()))
    for rows in HEIGHTS:
        sums = region_sums(source, index, n, rows)
        scale, uniform = region_scales(totals, pattern.background, sums, cells, regions.codes)
        got = assembled(source, index, scale, uniform, rows)
        assert got.tobytes() == want.tobytes(), rows
    by_province = pd.Series(np.bincount(index[index >= 0], weights=want[index >= 0]))
    by_province.index = [regions.codes[k] for k in by_province.index]
    np.testing.assert_allclose(by_province[totals.index], totals, rtol=1e-12)


def test_smoothed_strip_reaches_across_strip_edges(china):
    """One city just above a strip: its kernel's tail reaches 3 sigma into the strip."""
    _, grid, index, *_ = china
    source = RawSource(np.array([99]), np.array([50]), np.array([1.0]), sigma=2.0)
    below = raw_strip(source, index.shape, 100, 110)
    assert below[5, 50] > 0 and below[:6].sum() > 0 and below[6:].sum() == 0  # rows 100..105
    point = np.zeros(index.shape)
    point[99, 50] = 1.0
    whole = gaussian_filter(point, 2.0, mode="constant", truncate=3.0)
    assert below.tobytes() == whole[100:110].tobytes()


def test_written_inventory_is_the_same_for_any_strip_height(china, tmp_path):
    regions, grid, index, cities, totals = china
    frame = pd.DataFrame({s: totals for s in DEMO_SECTORS})
    layers = {}
    for rows in (1, 10_000):
        folder = tmp_path / f"rows{rows}"
        write_inventory(
            folder,
            frame,
            index=index,
            codes=regions.codes,
            cities=cities,
            grid=grid,
            rng=np.random.default_rng(3),
            rows=rows,
        )
        layers[rows] = {}
        for sector in DEMO_SECTORS:
            with rasterio.open(folder / f"{sector}.tif") as src:
                layers[rows][sector] = src.read(1)
                assert src.tags()["units"] == src.tags(1)["units"] == "t CO2/cell/yr"
                assert src.profile["blockxsize"] == 256 and src.nodata is None
    for sector in DEMO_SECTORS:
        assert layers[1][sector].tobytes() == layers[10_000][sector].tobytes(), sector
        assert layers[1][sector].sum() == pytest.approx(totals.sum(), rel=1e-12)
