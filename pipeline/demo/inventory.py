"""Synthetic gridded CO2 inventory on real geography (demo only).

The emission numbers are SYNTHETIC. The geography is real: province polygons
and city points from ``data/``. Each province's total per inventory sector is
spread over its cells with a sector-specific pattern:

* point-source sectors (power, iron & steel, cement, chemicals) place plants
  near cities drawn by population, offset by a sector-specific distance;
* area sectors (other industry, transport, services) follow a population
  density surface (cities smoothed by a Gaussian kernel) plus a uniform
  background over the province.

Per province and sector the cells add up exactly to the requested total.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from pyproj import Transformer
from scipy.ndimage import gaussian_filter

from pipeline.grid.spec import GridSpec
from pipeline.results.exports import write_geotiff


@dataclass(frozen=True)
class SectorPattern:
    """How one inventory sector is laid out in space."""

    plants_per_province: tuple[int, int] = (0, 0)
    offset_km: float = 20.0
    kernel_km: float = 20.0
    background: float = 0.05

    @property
    def is_point_source(self) -> bool:
        """Whether the sector is made of plants rather than a density surface."""
        return self.plants_per_province[1] > 0


#: Inventory sectors of the demo, their MRIO sectors and their spatial pattern.
DEMO_SECTORS: dict[str, tuple[tuple[str, ...], SectorPattern]] = {
    "power": (("electricity_heat",), SectorPattern((6, 30), offset_km=40.0)),
    "iron_steel": (("metal_smelting",), SectorPattern((4, 15), offset_km=20.0)),
    "cement": (("nonmetallic_minerals",), SectorPattern((10, 40), offset_km=50.0)),
    "chemicals": (("chemicals", "petroleum_coking"), SectorPattern((5, 20), offset_km=25.0)),
    "other_industry": (
        ("mining", "food", "textiles", "machinery", "electronics", "construction"),
        SectorPattern(kernel_km=15.0, background=0.05),
    ),
    "transport": (("transport",), SectorPattern(kernel_km=30.0, background=0.15)),
    "services": (("services", "agriculture"), SectorPattern(kernel_km=8.0, background=0.05)),
}


def demo_concordance() -> pd.DataFrame:
    """The demo's inventory-to-MRIO sector concordance (no fixed weights)."""
    rows = [(s, m) for s, (mrio, _) in DEMO_SECTORS.items() for m in mrio]
    return pd.DataFrame(rows, columns=["inventory_sector", "mrio_sector"])


def inventory_totals(mrio_emissions: pd.DataFrame) -> pd.DataFrame:
    """Province x inventory-sector totals from province x MRIO-sector emissions."""
    return pd.DataFrame(
        {s: mrio_emissions[list(mrio)].sum(axis=1) for s, (mrio, _) in DEMO_SECTORS.items()}
    )


def city_cells(cities: pd.DataFrame, grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """Projected x, y of the cities on the grid's CRS."""
    to_grid = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    return to_grid.transform(cities["lon"].to_numpy(), cities["lat"].to_numpy())


def spread_sector(
    totals: pd.Series,
    pattern: SectorPattern,
    *,
    region_index: np.ndarray,
    region_codes: tuple[str, ...],
    cities: pd.DataFrame,
    grid: GridSpec,
    rng: np.random.Generator,
) -> np.ndarray:
    """Spread one sector's province totals over the grid.

    Parameters
    ----------
    totals : pandas.Series
        Tonnes per province code.
    pattern : SectorPattern
    region_index : numpy.ndarray
        ``(ny, nx)`` positions in ``region_codes``; ``-1`` outside.
    region_codes : tuple of str
    cities : pandas.DataFrame
        ``data/china_cities.csv``.
    grid : GridSpec
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` float64 tonnes per cell; per province the sum equals ``totals``.
    """
    if pattern.is_point_source:
        raw = _plants(totals.index, pattern, region_index, region_codes, cities, grid, rng)
    else:
        raw = _density(pattern, cities, grid)
    return _normalise_per_region(raw, totals, pattern.background, region_index, region_codes)


def _plants(provinces, pattern, region_index, region_codes, cities, grid, rng) -> np.ndarray:
    raw = np.zeros(grid.shape)
    xs, ys = city_cells(cities, grid)
    low, high = pattern.plants_per_province
    for code in provinces:
        here = np.flatnonzero(cities["province"].to_numpy() == code)
        if here.size == 0:
            continue
        pop = cities["population"].to_numpy(dtype=float)[here]
        n = int(rng.integers(low, high + 1))
        pick = here[rng.choice(here.size, size=n, p=pop / pop.sum())]
        px = xs[pick] + rng.normal(0, pattern.offset_km * 1e3, n)
        py = ys[pick] + rng.normal(0, pattern.offset_km * 1e3, n)
        rows, cols = _cells_of(px, py, grid)
        city_rows, city_cols = _cells_of(xs[pick], ys[pick], grid)
        strayed = ~_in_region(rows, cols, region_index, region_codes.index(code))
        rows[strayed], cols[strayed] = city_rows[strayed], city_cols[strayed]
        weights = rng.lognormal(0.0, 1.0, n)  # relative plant sizes
        ok = _in_region(rows, cols, region_index, region_codes.index(code))
        np.add.at(raw, (rows[ok], cols[ok]), weights[ok])
    return raw


def _density(pattern: SectorPattern, cities: pd.DataFrame, grid: GridSpec) -> np.ndarray:
    raw = np.zeros(grid.shape)
    xs, ys = city_cells(cities, grid)
    rows, cols = _cells_of(xs, ys, grid)
    ok = (rows >= 0) & (rows < grid.shape[0]) & (cols >= 0) & (cols < grid.shape[1])
    np.add.at(raw, (rows[ok], cols[ok]), cities["population"].to_numpy(dtype=float)[ok])
    sigma = pattern.kernel_km * 1e3 / grid.transform.a
    return gaussian_filter(raw, sigma=sigma, mode="constant", truncate=3.0)


def _cells_of(x: np.ndarray, y: np.ndarray, grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    cols, rows = ~grid.transform @ (np.asarray(x), np.asarray(y))
    return np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)


def _in_region(rows, cols, region_index, code: int) -> np.ndarray:
    ny, nx = region_index.shape
    inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    hit = np.zeros(rows.shape, dtype=bool)
    hit[inside] = region_index[rows[inside], cols[inside]] == code
    return hit


def _normalise_per_region(raw, totals, background, region_index, region_codes) -> np.ndarray:
    n = len(region_codes)
    rows = np.where(region_index < 0, n, region_index).ravel()
    target = np.zeros(n + 1)
    for code, value in totals.items():
        target[region_codes.index(code)] = value
    cells = np.bincount(rows, minlength=n + 1).astype(float)
    raw_sum = np.bincount(rows, weights=raw.ravel(), minlength=n + 1)
    # Provinces the pattern missed get a uniform layer only.
    point_share = np.where(raw_sum > 0, 1.0 - background, 0.0)
    scale = np.divide(target * point_share, raw_sum, out=np.zeros(n + 1), where=raw_sum > 0)
    uniform = np.divide(target * (1.0 - point_share), cells, out=np.zeros(n + 1), where=cells > 0)
    scale[n] = uniform[n] = 0.0
    out = raw.ravel() * scale[rows] + uniform[rows]
    return out.reshape(region_index.shape)


def write_sector_layer(path: Path, values: np.ndarray, grid: GridSpec, *, units: str) -> Path:
    """Write one float64 layer as a GeoTIFF with CRS and units, marked synthetic.

    :func:`pipeline.results.exports.write_geotiff` with the floating-point
    predictor, no nodata, and ``units`` as file and band tags.
    """
    layer = xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": grid.y, "x": grid.x},
        attrs={"units": units, "note": "SYNTHETIC demo emissions (footprint-map)"},
    )
    return write_geotiff(
        layer,
        path,
        crs=grid.crs,
        transform=grid.transform,
        band_tags={"units": units},
        nodata=None,
        predictor=3,
    )
