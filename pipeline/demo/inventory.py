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

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

from pipeline.demo.strips import RawSource, write_strips
from pipeline.grid.spec import GridSpec

#: The ``note`` tag of every demo layer.
SYNTHETIC_NOTE = "SYNTHETIC demo emissions (footprint-map)"


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


def sector_source(
    provinces: pd.Index,
    pattern: SectorPattern,
    *,
    region_index: np.ndarray,
    region_codes: tuple[str, ...],
    cities: pd.DataFrame,
    grid: GridSpec,
    rng: np.random.Generator,
) -> RawSource:
    """The raw weights of one sector, before the per-province normalisation.

    Parameters
    ----------
    provinces : pandas.Index
        Province codes with a total, in order (plants are drawn in this order).
    pattern : SectorPattern
    region_index : numpy.ndarray
        ``(ny, nx)`` positions in ``region_codes``; ``-1`` outside. Plants are
        looked up in it cell by cell.
    region_codes : tuple of str
    cities : pandas.DataFrame
        ``data/china_cities.csv``.
    grid : GridSpec
    rng : numpy.random.Generator
        Point-source sectors draw from it; density sectors do not.

    Returns
    -------
    RawSource
        Plants (bare points), or city populations with the sector's Gaussian
        kernel in cells.
    """
    if pattern.is_point_source:
        return _plants(provinces, pattern, region_index, region_codes, cities, grid, rng)
    return _density(pattern, cities, grid)


def _plants(provinces, pattern, region_index, region_codes, cities, grid, rng) -> RawSource:
    xs, ys = city_cells(cities, grid)
    low, high = pattern.plants_per_province
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
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
        found.append((rows[ok], cols[ok], weights[ok]))
    if not found:
        return RawSource(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    rows, cols, weights = (np.concatenate(part) for part in zip(*found, strict=True))
    return RawSource(rows, cols, weights)


def _density(pattern: SectorPattern, cities: pd.DataFrame, grid: GridSpec) -> RawSource:
    xs, ys = city_cells(cities, grid)
    rows, cols = _cells_of(xs, ys, grid)
    ok = (rows >= 0) & (rows < grid.shape[0]) & (cols >= 0) & (cols < grid.shape[1])
    population = cities["population"].to_numpy(dtype=float)
    sigma = pattern.kernel_km * 1e3 / grid.transform.a
    return RawSource(rows[ok], cols[ok], population[ok], sigma=sigma)


def _cells_of(x: np.ndarray, y: np.ndarray, grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    cols, rows = ~grid.transform @ (np.asarray(x), np.asarray(y))
    return np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)


def _in_region(rows, cols, region_index, code: int) -> np.ndarray:
    ny, nx = region_index.shape
    inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    hit = np.zeros(rows.shape, dtype=bool)
    hit[inside] = region_index[rows[inside], cols[inside]] == code
    return hit


def region_scales(
    totals: pd.Series,
    background: float,
    raw_sums: np.ndarray,
    cells: np.ndarray,
    region_codes: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Per-region ``scale`` of the raw layer and ``uniform`` value of every cell.

    Parameters
    ----------
    totals : pandas.Series
        Tonnes per province code.
    background : float
        Share of a province's total spread uniformly over its cells.
    raw_sums, cells : numpy.ndarray
        Sum of the raw layer and number of cells of each region, outside last.
    region_codes : tuple of str

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``n + 1`` entries each, the last (outside) 0: a cell of region ``r`` gets
        ``raw * scale[r] + uniform[r]``, so each province adds up to its total.
        A province the pattern missed gets the uniform layer only.
    """
    n = len(region_codes)
    target = np.zeros(n + 1)
    for code, value in totals.items():
        target[region_codes.index(code)] = value
    cells = cells.astype(float)
    point_share = np.where(raw_sums > 0, 1.0 - background, 0.0)
    scale = np.divide(target * point_share, raw_sums, out=np.zeros(n + 1), where=raw_sums > 0)
    uniform = np.divide(target * (1.0 - point_share), cells, out=np.zeros(n + 1), where=cells > 0)
    scale[n] = uniform[n] = 0.0
    return scale, uniform


def write_sector_layer(path: Path, values: np.ndarray, grid: GridSpec, *, units: str) -> Path:
    """Write one float64 layer as a GeoTIFF with CRS and units, marked synthetic.

    Tiled, DEFLATE with the floating-point predictor, no nodata, ``units`` as
    file and band tags (:func:`write_layer_strips` with one strip).
    """
    return write_layer_strips(path, [(0, np.asarray(values, dtype=np.float64))], grid, units=units)


def write_layer_strips(
    path: Path, parts: Iterable[tuple[int, np.ndarray]], grid: GridSpec, *, units: str
) -> Path:
    """:func:`write_sector_layer` from ``(first row, strip)`` parts, window by window."""
    tags = {"units": units, "note": SYNTHETIC_NOTE}
    return write_strips(path, parts, grid, tags=tags, band_tags={"units": units})
