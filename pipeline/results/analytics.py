"""Tables of hotspot statistics, the city rule and drivers: pure numpy and pandas.

These functions back :class:`pipeline.results.api.Results`. They build tables
from results the Dask passes of :mod:`pipeline.results.statistics` already
reduced (per-cell lists, per-region and per-city sums), and never take a whole
``(y, x)`` layer.

City rule
---------
A city is a point of the study's city list (:mod:`pipeline.results.places`: the
``[regions] cities`` file, else the shipped GeoNames list
``data/china_cities.csv``), kept only if its point lies in a land cell or its
disc holds a land cell centre. Its
emissions are the sum over the cells whose *centre* lies within ``radius_km``
(default :data:`CITY_RADIUS_KM` = 25 km) of the point, measured as the
geodesic distance on the CRS's ellipsoid, in metres, on lat/lon and projected
grids alike (a projected grid's cell centres are transformed to its
longitude/latitude first). Discs of neighbouring cities may overlap, so the
same cell can count for several cities and city totals must not be added up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from pipeline.errors import ConfigError
from pipeline.grid.spec import GridSpec

CITY_RADIUS_KM = 25.0


def check_share(share: float) -> None:
    """Raise unless ``0 < share <= 1``."""
    if not 0 < share <= 1:
        raise ConfigError(f"share {share!r} must be in (0, 1], e.g. 0.75 for 75%")


def cell_table(
    flat_cells: np.ndarray, t_co2: np.ndarray, total: float, grid: GridSpec, codes
) -> pd.DataFrame:
    """Table of the given cells in the given order (one row per cell).

    Parameters
    ----------
    flat_cells : numpy.ndarray
        Flat (row-major) cell indices of ``grid``.
    t_co2 : numpy.ndarray
        The layer's value of each cell.
    total : float
        The layer's total over all cells (shares are of it).
    grid : pipeline.grid.spec.GridSpec
        The store's grid.
    codes : sequence of str
        Region code of each cell (:func:`region_names`).

    Returns
    -------
    pandas.DataFrame
        ``rank, row, col, x, y, lon, lat, region, t_co2, share, cumulative_share``.
    """
    rows, cols = np.divmod(np.asarray(flat_cells, dtype=np.int64), grid.shape[1])
    t = np.asarray(t_co2, dtype=np.float64)
    x, y = grid.x[cols], grid.y[rows]
    lon, lat = grid.to_lonlat(x, y)
    return pd.DataFrame(
        {
            "rank": np.arange(1, rows.size + 1),
            "row": rows,
            "col": cols,
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
            "region": np.asarray(codes, dtype=object),
            "t_co2": t,
            "share": t / total if total != 0 else 0.0,
            "cumulative_share": np.cumsum(t) / total if total != 0 else 0.0,
        }
    )


def region_names(labels: np.ndarray, codes) -> list[str]:
    """Region code of each ``region_index`` value (``""`` outside every region)."""
    return [codes[i] if i >= 0 else "" for i in np.asarray(labels, dtype=np.int64)]


def province_table(
    sums: np.ndarray, counts: np.ndarray, areas: np.ndarray, codes, total: float
) -> pd.DataFrame:
    """Regions of the raster, largest first.

    Parameters
    ----------
    sums, counts, areas : numpy.ndarray
        Per raster code: the layer's sum, the cells and their area in km².
    codes : sequence of str
        The raster codes.
    total : float
        The layer's total over all cells (shares are of it).

    Returns
    -------
    pandas.DataFrame
        ``province, t_co2, share, cells, area_km2``.
    """
    sums = np.asarray(sums, dtype=np.float64)
    frame = pd.DataFrame(
        {
            "province": list(codes),
            "t_co2": sums,
            "share": sums / total if total != 0 else 0.0,
            "cells": np.asarray(counts).astype(np.int64),
            "area_km2": np.asarray(areas, dtype=np.float64),
        }
    )
    return _ranked(frame)


#: Smallest radius of curvature of any common ellipsoid (WGS84 meridian at the
#: equator, a(1 - e²) = 6,335,439 m), rounded down: a disc of radius r spans at
#: most r / this radians of latitude.
_MIN_CURVATURE_M = 6_335_000.0
#: Relative margin on the search window of a disc (the window only bounds the
#: cells whose geodesic distance is then computed exactly).
_WINDOW_MARGIN = 1.02


def city_discs(grid: GridSpec, cities: pd.DataFrame, radius_km: float):
    """Yield ``(position, rows, cols, mask)`` of each city's disc.

    ``rows`` and ``cols`` are sorted index arrays of a window of the grid and
    ``mask`` the bool ``(rows, cols)`` window of the cells whose centre lies
    within ``radius_km`` of the city, by geodesic distance on the CRS's
    ellipsoid (:attr:`~pipeline.grid.spec.GridSpec.geod`). On a projected grid
    the cell centres are first transformed to the CRS's longitude/latitude, so
    the rule is the same on every grid. Cities whose disc holds no cell centre are skipped.
    """
    if not radius_km > 0:
        raise ConfigError(f"radius_km {radius_km!r} must be positive, e.g. 25")
    radius = float(radius_km) * 1000.0
    geod = grid.geod
    lons = cities["lon"].to_numpy(dtype=float)
    lats = cities["lat"].to_numpy(dtype=float)
    window = _lonlat_window if grid.geographic else _projected_window
    for n, (lon, lat) in enumerate(zip(lons, lats, strict=True)):
        rows, cols = window(grid, float(lon), float(lat), radius)
        if rows.size == 0 or cols.size == 0:
            continue
        clon, clat = _centres_lonlat(grid, rows, cols)
        _, _, distance = geod.inv(np.full(clon.shape, lon), np.full(clat.shape, lat), clon, clat)
        mask = np.asarray(distance).reshape(clon.shape) <= radius
        if mask.any():
            yield n, rows, cols, mask


def _centres_lonlat(grid: GridSpec, rows: np.ndarray, cols: np.ndarray):
    """``(len(rows), len(cols))`` longitudes and latitudes of window cell centres."""
    xx, yy = np.meshgrid(grid.x[cols], grid.y[rows])
    if grid.geographic:
        return xx, yy
    geodetic = CRS.from_user_input(grid.crs).geodetic_crs
    transformer = Transformer.from_crs(grid.crs, geodetic, always_xy=True)
    return transformer.transform(xx, yy)


def _lonlat_window(grid: GridSpec, lon: float, lat: float, radius: float):
    """Rows and columns that can hold a disc on a lon/lat grid (wraps at ±180°)."""
    angle = radius / _MIN_CURVATURE_M * _WINDOW_MARGIN
    dlat = np.degrees(angle)
    rows = np.flatnonzero(np.abs(grid.y - lat) <= dlat)
    if abs(lat) + dlat >= 90.0 or angle >= np.pi / 2:
        return rows, np.arange(grid.x.size)
    ratio = np.sin(angle) / np.cos(np.radians(abs(lat) + dlat))
    dlon = 180.0 if ratio >= 1 else np.degrees(np.arcsin(ratio))
    offset = (grid.x - lon + 180.0) % 360.0 - 180.0
    return rows, np.flatnonzero(np.abs(offset) <= dlon)


def _projected_window(grid: GridSpec, lon: float, lat: float, radius: float):
    """Rows and columns inside the bounding box of the disc's projected outline."""
    azimuths = np.linspace(0.0, 360.0, 73)[:-1]
    geod = grid.geod
    olon, olat, _ = geod.fwd(
        np.full(azimuths.shape, lon),
        np.full(azimuths.shape, lat),
        azimuths,
        np.full(azimuths.shape, radius * _WINDOW_MARGIN),
    )
    geodetic = CRS.from_user_input(grid.crs).geodetic_crs
    transformer = Transformer.from_crs(geodetic, grid.crs, always_xy=True)
    px, py = (
        np.asarray(v) for v in transformer.transform(np.append(olon, lon), np.append(olat, lat))
    )
    ok = np.isfinite(px) & np.isfinite(py)
    if not ok.any():
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    rows = np.flatnonzero((grid.y >= py[ok].min()) & (grid.y <= py[ok].max()))
    cols = np.flatnonzero((grid.x >= px[ok].min()) & (grid.x <= px[ok].max()))
    return rows, cols


def city_table(
    sums: np.ndarray, counts: np.ndarray, total: float, cities: pd.DataFrame
) -> pd.DataFrame:
    """Cities by the layer's sum over their discs (see the module's city rule), largest first.

    Parameters
    ----------
    sums : numpy.ndarray
        Per city of ``cities``: the layer's sum over its disc (0 without one).
    counts : numpy.ndarray
        Per city: the cells of its disc.
    total : float
        The layer's total over all cells (shares are of it).
    cities : pandas.DataFrame
        The city list (:func:`pipeline.results.places.read_cities`).

    Returns
    -------
    pandas.DataFrame
        ``geonameid, city, province, population, lon, lat, t_co2, share,
        cells``.
    """
    sums = np.asarray(sums, dtype=np.float64)
    frame = pd.DataFrame(
        {
            "geonameid": cities["geonameid"].to_numpy(),
            "city": cities["name"].to_numpy(),
            "province": cities["province"].to_numpy(),
            "population": cities["population"].to_numpy(),
            "lon": cities["lon"].to_numpy(),
            "lat": cities["lat"].to_numpy(),
            "t_co2": sums,
            "share": sums / total if total != 0 else 0.0,
            "cells": np.asarray(counts, dtype=np.int64),
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
    frame["share"] = frame["t_co2"] / total if total != 0 else 0.0
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


def by_size(frame: pd.DataFrame) -> pd.DataFrame:
    """A table of changes (signed ``t_co2``) ordered by their size, largest first.

    Increases and decreases rank together by ``|t_co2|`` (ties keep their
    order); ``rank`` is renumbered if present, and ``cumulative_share`` re-summed.
    """
    order = np.argsort(-np.abs(frame["t_co2"].to_numpy(dtype=np.float64)), kind="stable")
    ranked = frame.iloc[order].reset_index(drop=True)
    if "rank" in ranked:
        ranked["rank"] = np.arange(1, len(ranked) + 1)
    if "cumulative_share" in ranked:
        ranked["cumulative_share"] = ranked["share"].cumsum()
    ranked.attrs = dict(frame.attrs)
    return ranked
