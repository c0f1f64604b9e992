"""Hotspot statistics on in-memory ``(y, x)`` layers: pure numpy and pandas.

These functions back :class:`pipeline.results.Results`. Each works on one 2-D
layer already loaded in memory (``ny * nx`` float64, 160 MB for a 1 km China
grid) plus the region raster, and never on the whole cube.

City rule
---------
A city is a point of ``data/china_cities.csv`` (GeoNames places with at least
100,000 inhabitants), projected to the grid's CRS. Its emissions are the sum
over the cells whose *centre* lies within ``radius_km`` (default
:data:`CITY_RADIUS_KM` = 25 km) of the point. Discs of neighbouring cities may
overlap, so the same cell can count for several cities and city totals must
not be added up. A city whose disc holds no cell centre gets 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from pipeline.errors import ConfigError
from pipeline.resources import data_file

CITY_RADIUS_KM = 25.0


@dataclass(frozen=True)
class Grid:
    """Cell-centre coordinates and CRS of a store's grid.

    Parameters
    ----------
    x, y : numpy.ndarray
        Cell-centre coordinates in metres (``y`` descending).
    crs : pyproj.CRS
        The grid's CRS.
    """

    x: np.ndarray
    y: np.ndarray
    crs: CRS

    @property
    def cell_area_km2(self) -> float:
        """Area of one cell in km² (the grid is regular)."""
        dx = abs(float(self.x[1] - self.x[0])) if self.x.size > 1 else 1.0
        dy = abs(float(self.y[1] - self.y[0])) if self.y.size > 1 else 1.0
        return dx * dy / 1e6

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (EPSG:4326) of points in the grid CRS."""
        transformer = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return transformer.transform(np.asarray(x), np.asarray(y))

    def from_crs(self, x, y, crs) -> tuple[np.ndarray, np.ndarray]:
        """Points in ``crs`` (e.g. ``"EPSG:4326"`` for lon/lat) in the grid CRS."""
        transformer = Transformer.from_crs(CRS.from_user_input(crs), self.crs, always_xy=True)
        return transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """``(row, col)`` of the cell containing the point; raise if outside."""
        col = int(np.argmin(np.abs(self.x - x)))
        row = int(np.argmin(np.abs(self.y - y)))
        half = np.sqrt(self.cell_area_km2 * 1e6) / 2 * (1 + 1e-9)
        if abs(self.x[col] - x) > half or abs(self.y[row] - y) > half:
            xs = f"{self.x.min():.0f}..{self.x.max():.0f}"
            ys = f"{self.y.min():.0f}..{self.y.max():.0f}"
            raise ConfigError(
                f"point ({x:.0f}, {y:.0f}) is outside the grid x {xs}, y {ys} "
                "(store CRS metres; pass crs='EPSG:4326' for lon/lat)"
            )
        return row, col


def hotspot_order(values: np.ndarray, land: np.ndarray, share: float) -> tuple[np.ndarray, int]:
    """Flat indices of land cells, densest first, and how many hold ``share``.

    Parameters
    ----------
    values : numpy.ndarray
        ``(ny, nx)`` layer.
    land : numpy.ndarray
        ``(ny, nx)`` bool, the cells counted as land.
    share : float
        Share of the land total to hold, in ``(0, 1]``.

    Returns
    -------
    order : numpy.ndarray
        Flat indices into ``values`` of all land cells, largest value first
        (ties in cell order).
    k : int
        The smallest number of leading cells of ``order`` holding at least
        ``share`` of the land total; 0 if the total is 0. Same rule as
        :func:`pipeline.kernels.concentration.land_share_holding`.

    Notes
    -----
    Peak memory is about 24 bytes per land cell on top of ``values``.
    """
    check_share(share)
    cells = np.flatnonzero(np.asarray(land).ravel())
    flat = np.asarray(values, dtype=np.float64).ravel()[cells]
    local = np.argsort(-flat, kind="stable")
    cumulative = np.cumsum(flat[local])
    total = cumulative[-1] if cumulative.size else 0.0
    if total <= 0:
        return cells[local], 0
    k = int(np.searchsorted(cumulative / total, share * (1 - 1e-12), side="left")) + 1
    return cells[local], min(k, cells.size)


def cells_holding(values: np.ndarray, land: np.ndarray, shares) -> tuple[list[int], int]:
    """Smallest numbers of land cells holding each of ``shares`` of the land total.

    Returns the counts (0 where the total is 0) and the number of land cells.
    One sort of the land values, so about 16 bytes per land cell of memory.
    """
    flat = np.sort(np.asarray(values, dtype=np.float64)[np.asarray(land)])[::-1]
    cumulative = np.cumsum(flat)
    total = cumulative[-1] if cumulative.size else 0.0
    counts = []
    for share in shares:
        check_share(share)
        if total <= 0:
            counts.append(0)
            continue
        k = int(np.searchsorted(cumulative / total, share * (1 - 1e-12), side="left")) + 1
        counts.append(min(k, flat.size))
    return counts, int(flat.size)


def check_share(share: float) -> None:
    """Raise unless ``0 < share <= 1``."""
    if not 0 < share <= 1:
        raise ConfigError(f"share {share!r} must be in (0, 1], e.g. 0.75 for 75%")


def hotspot_table(values: np.ndarray, flat_cells: np.ndarray, grid: Grid, codes) -> pd.DataFrame:
    """Table of the given cells in the given order (one row per cell).

    Columns: ``rank, row, col, x, y, lon, lat, region, t_co2, share,
    cumulative_share`` where shares are of the layer's total over all cells.
    """
    ny, nx = values.shape
    rows, cols = np.divmod(flat_cells, nx)
    t = np.asarray(values, dtype=np.float64).ravel()[flat_cells]
    total = float(np.asarray(values, dtype=np.float64).sum())
    x, y = grid.x[cols], grid.y[rows]
    lon, lat = grid.to_lonlat(x, y)
    return pd.DataFrame(
        {
            "rank": np.arange(1, flat_cells.size + 1),
            "row": rows,
            "col": cols,
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
            "region": np.asarray(codes, dtype=object),
            "t_co2": t,
            "share": t / total if total > 0 else 0.0,
            "cumulative_share": np.cumsum(t) / total if total > 0 else 0.0,
        }
    )


def region_codes_of(region_index: np.ndarray, flat_cells: np.ndarray, codes) -> list[str]:
    """Region code of each flat cell (``""`` outside every region)."""
    idx = np.asarray(region_index).ravel()[flat_cells]
    return [codes[i] if i >= 0 else "" for i in idx]


def province_totals(
    values: np.ndarray, region_index: np.ndarray, codes, cell_area_km2: float
) -> pd.DataFrame:
    """Sum of ``values`` over each region of the raster, largest first.

    Columns: ``province, t_co2, share, cells, area_km2``.
    """
    idx = np.asarray(region_index).ravel()
    inside = idx >= 0
    flat = np.asarray(values, dtype=np.float64).ravel()
    sums = np.bincount(idx[inside], weights=flat[inside], minlength=len(codes))
    counts = np.bincount(idx[inside], minlength=len(codes))
    total = float(flat.sum())
    frame = pd.DataFrame(
        {
            "province": list(codes),
            "t_co2": sums,
            "share": sums / total if total > 0 else 0.0,
            "cells": counts,
            "area_km2": counts * cell_area_km2,
        }
    )
    return _ranked(frame)


def read_cities() -> pd.DataFrame:
    """The reference cities: ``geonameid, name, lat, lon, population, province``."""
    return pd.read_csv(data_file("china_cities.csv"))


def city_discs(grid: Grid, cities: pd.DataFrame, radius_km: float):
    """Yield ``(position, rows slice, cols slice, mask)`` of each city's disc.

    ``mask`` is the bool window of cells whose centre is within ``radius_km``
    of the city; cities whose disc holds no cell centre are skipped.
    """
    if radius_km <= 0:
        raise ConfigError(f"radius_km {radius_km!r} must be positive, e.g. 25")
    radius = radius_km * 1000.0
    cx, cy = grid.from_crs(cities["lon"].to_numpy(), cities["lat"].to_numpy(), "EPSG:4326")
    xs, ys_ascending = grid.x, grid.y[::-1]
    ny = grid.y.size
    for n, (px, py) in enumerate(zip(cx, cy, strict=True)):
        c0, c1 = np.searchsorted(xs, [px - radius, px + radius], side="left")
        a0, a1 = np.searchsorted(ys_ascending, [py - radius, py + radius], side="left")
        rows = slice(ny - a1, ny - a0)
        cols = slice(int(c0), int(c1))
        dx = xs[cols][None, :] - px
        dy = grid.y[rows][:, None] - py
        mask = dx**2 + dy**2 <= radius**2
        if mask.any():
            yield n, rows, cols, mask


def city_totals(
    values: np.ndarray, grid: Grid, *, radius_km: float = CITY_RADIUS_KM
) -> pd.DataFrame:
    """Sum of ``values`` over each city's disc (see the module's city rule), largest first.

    Columns: ``geonameid, city, province, population, lon, lat, t_co2, share,
    cells``; ``share`` is of the layer's total over all cells.
    """
    cities = read_cities()
    sums = np.zeros(len(cities))
    counts = np.zeros(len(cities), dtype=np.int64)
    for n, rows, cols, mask in city_discs(grid, cities, radius_km):
        sums[n] = float(np.asarray(values[rows, cols], dtype=np.float64)[mask].sum())
        counts[n] = int(mask.sum())
    total = float(np.asarray(values, dtype=np.float64).sum())
    frame = pd.DataFrame(
        {
            "geonameid": cities["geonameid"],
            "city": cities["name"],
            "province": cities["province"],
            "population": cities["population"],
            "lon": cities["lon"],
            "lat": cities["lat"],
            "t_co2": sums,
            "share": sums / total if total > 0 else 0.0,
            "cells": counts,
        }
    )
    return _ranked(frame)


def find_city(cities: pd.DataFrame, city: str | int) -> int:
    """Row position of a city given by geonameid, ``"Name"`` or ``"Name, CN-XX"``."""
    if isinstance(city, int | np.integer) or str(city).isdigit():
        hits = np.flatnonzero(cities["geonameid"].to_numpy() == int(city))
    else:
        name, _, province = (part.strip() for part in str(city).partition(","))
        match = cities["name"].str.lower() == name.lower()
        if province:
            match &= cities["province"].str.upper() == province.upper()
        hits = np.flatnonzero(match.to_numpy())
    if hits.size == 1:
        return int(hits[0])
    if hits.size > 1:
        options = ", ".join(
            f"'{cities['name'].iloc[h]}, {cities['province'].iloc[h]}'" for h in hits
        )
        raise ConfigError(f"city {city!r} is ambiguous; use one of {options} or a geonameid")
    raise unknown_code("city", str(city), cities["name"].tolist())


def unknown_code(kind: str, value: str, valid) -> ConfigError:
    """A one-line :class:`ConfigError` naming the closest matches and the valid codes."""
    import difflib

    valid = [str(v) for v in valid]
    close = difflib.get_close_matches(str(value), valid, n=3, cutoff=0.5)
    close += [v for v in valid if v.lower() == str(value).lower() and v not in close]
    hint = f"did you mean {', '.join(close)}? " if close else ""
    listing = ", ".join(valid) if len(valid) <= 60 else f"{len(valid)} names, e.g. {valid[0]}"
    return ConfigError(f"unknown {kind} {value!r}; {hint}valid {kind} codes: {listing}")


def drivers_frame(
    sector_totals: np.ndarray, shares: np.ndarray, labels: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Tidy decomposition of emissions by consumer × category × sector.

    Parameters
    ----------
    sector_totals : numpy.ndarray
        ``(n_producers, n_sectors)`` emissions in the place of interest, by the
        producer region they lie in.
    shares : numpy.ndarray
        ``(n_producers, n_sectors, n_consumers, n_categories)`` attribution
        shares ``M`` (they sum to 1 over consumers and categories).
    labels : dict
        ``consumer``, ``foreign``, ``category`` and ``sector`` label arrays.

    Returns
    -------
    pandas.DataFrame
        ``consumer, foreign, category, sector, t_co2, share``, largest first.
    """
    values = np.einsum("rs,rsck->csk", sector_totals, shares)
    c, s, k = np.meshgrid(
        np.arange(values.shape[0]),
        np.arange(values.shape[1]),
        np.arange(values.shape[2]),
        indexing="ij",
    )
    total = float(values.sum())
    frame = pd.DataFrame(
        {
            "consumer": np.asarray(labels["consumer"], dtype=object)[c.ravel()],
            "foreign": np.asarray(labels["foreign"], dtype=bool)[c.ravel()],
            "category": np.asarray(labels["category"], dtype=object)[k.ravel()],
            "sector": np.asarray(labels["sector"], dtype=object)[s.ravel()],
            "t_co2": values.ravel(),
        }
    )
    frame["share"] = frame["t_co2"] / total if total > 0 else 0.0
    return _ranked(frame)


def group_drivers(frame: pd.DataFrame, by) -> pd.DataFrame:
    """Sum a drivers table over the dimensions not in ``by``, largest first."""
    by = [by] if isinstance(by, str) else list(by)
    allowed = ["consumer", "category", "sector"]
    for name in by:
        if name not in allowed:
            raise unknown_code("grouping", name, allowed)
    keys = by + (["foreign"] if "consumer" in by else [])
    grouped = frame.groupby(keys, sort=False, as_index=False)[["t_co2", "share"]].sum()
    return _ranked(grouped[[*keys, "t_co2", "share"]])


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("t_co2", ascending=False, kind="stable").reset_index(drop=True)
