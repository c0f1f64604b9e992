"""A study's own places: its city list and its boundary files.

The run records where they are in the store attribute :data:`PLACES_ATTR`
(absolute paths, JSON), so the results API, ``query`` and ``report`` use the
study's places and not China's:

- **cities**: the ``[regions] cities`` CSV (columns :data:`CITY_COLUMNS`, as
  ``data/china_cities.csv``) replaces the shipped GeoNames list; without it the
  shipped list is used, and in both cases only the cities whose disc holds a
  land cell of the grid are ranked (see :mod:`pipeline.results.analytics`);
- **borders**: the ``[regions] boundaries`` files, drawn on the report's maps;
- **city polygons**: the ``[regions] city_polygons`` file and its name field;
  when given, cities are ranked over those polygons with exact cell coverage
  (:mod:`pipeline.results.zonal`) instead of discs around the city points.
"""

from __future__ import annotations

import json
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pandas as pd

from pipeline.errors import InputFileError
from pipeline.grid.window_blocks import window_sums
from pipeline.grid.zones import read_zones
from pipeline.resources import data_file

#: Columns of a city list (extra columns are ignored).
CITY_COLUMNS = ("geonameid", "name", "lat", "lon", "population", "province")
#: The shipped city list (GeoNames places in China with >= 100,000 inhabitants).
SHIPPED_CITIES = "china_cities.csv"
#: Store attribute recording the study's places.
PLACES_ATTR = "study_places"


def read_cities(path: str | Path | None = None) -> pd.DataFrame:
    """A city list: ``geonameid, name, lat, lon, population, province``.

    Parameters
    ----------
    path : str or Path, optional
        A ``[regions] cities`` CSV; default the shipped ``data/china_cities.csv``.

    Raises
    ------
    InputFileError
        Naming the file and ``[regions] cities`` if the file is missing, lacks a
        column, or has a non-numeric or out-of-range coordinate.
    """
    source = Path(path) if path is not None else data_file(SHIPPED_CITIES)
    where = f"{source} (`cities`)"
    if not Path(source).is_file():
        raise InputFileError(f"{where}: file not found; fix the path or remove the key")
    try:
        frame = pd.read_csv(source)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{where}: not a readable CSV ({exc})") from exc
    missing = [c for c in CITY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputFileError(
            f"{where}: missing column(s) {missing}; a city list needs {list(CITY_COLUMNS)} "
            "like data/china_cities.csv"
        )
    for column, bound in (("lat", 90.0), ("lon", 180.0)):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(np.abs(values) <= bound))
        if bad.size:
            row = int(bad[0])
            raise InputFileError(
                f"{where}: row {row + 2} ({frame['name'].iloc[row]!r}) has {column} = "
                f"{str(frame[column].iloc[row])!r}; use decimal degrees within ±{bound:g}"
            )
        frame[column] = values
    frame = frame[list(CITY_COLUMNS)].reset_index(drop=True)
    frame.attrs["source"] = str(source)
    return frame


def place_attrs(
    *,
    boundaries: list[Path] | None,
    code_field: str | list,
    cities: Path | None,
    city_polygons: tuple[Path, str | None] | None = None,
) -> dict[str, str]:
    """The store attribute recording a study's places.

    Parameters
    ----------
    boundaries : list of Path or None
        The boundary files (None for a region raster).
    code_field : str or list
        Their region-code property.
    cities : Path or None
        The study's city list (None: the shipped list).
    city_polygons : (Path, str or None), optional
        The study's city polygons and the property naming them (None: the
        first text property); None ranks discs around the city points.

    Returns
    -------
    dict
        ``{PLACES_ATTR: json}`` with ``boundaries`` (list of absolute paths or
        None), ``code_field``, ``cities`` (absolute path or None) and
        ``city_polygons`` (``{"path", "field"}`` or None).

    Raises
    ------
    InputFileError
        If ``cities`` is not a valid city list, or ``city_polygons`` not a
        readable file of polygons with that field.
    """
    if cities is not None:
        read_cities(cities)
    polygons = None
    if city_polygons is not None:
        path, field = city_polygons
        read_zones(path, field, option="`city_polygons`", field_option="`city_polygons`")
        polygons = {"path": str(Path(path)), "field": field}
    places = {
        "boundaries": None if boundaries is None else [str(Path(p)) for p in boundaries],
        "code_field": code_field,
        "cities": None if cities is None else str(cities),
        "city_polygons": polygons,
    }
    return {PLACES_ATTR: json.dumps(places)}


def stored_places(attrs: dict) -> dict:
    """The places a store records (empty values for stores written before they were)."""
    places = json.loads(attrs.get(PLACES_ATTR, "{}"))
    return {
        "boundaries": places.get("boundaries"),
        "code_field": places.get("code_field", "code"),
        "cities": places.get("cities"),
        "city_polygons": places.get("city_polygons"),
    }


def study_borders(attrs: dict):
    """The study's boundary polygons recorded in a store's attributes, or None.

    Returns
    -------
    pipeline.grid.regions.Regions or None
        None if the study used a region raster, or if a recorded boundary file
        no longer exists (e.g. the results were moved to another machine).
    """
    from pipeline.grid.regions import read_regions

    places = stored_places(attrs)
    paths = places["boundaries"]
    if not paths or not all(Path(p).is_file() for p in paths):
        return None
    return read_regions(
        [Path(p) for p in paths] if len(paths) > 1 else Path(paths[0]),
        code_field=places["code_field"],
    )


def cities_on_land(grid, cities: pd.DataFrame, land, radius_km: float, *, compute=dask.compute):
    """The cities on the grid's land or within ``radius_km`` of it, and their discs.

    A city is kept if its point lies in a land cell or its disc holds a land
    cell centre (a city on a coarse grid may have a disc without any centre:
    it is kept, with 0 t).

    Parameters
    ----------
    grid : pipeline.grid.spec.GridSpec
        The store's grid.
    cities : pandas.DataFrame
        A city list (:func:`read_cities`).
    land : dask.array.Array or numpy.ndarray
        ``(ny, nx)`` bool, the land cells (producer regions). Lazy is best: one
        pass reads only the chunks the cities' points and discs touch.
    radius_km : float
        Disc radius (geodesic, see :func:`pipeline.results.analytics.city_discs`).
    compute : callable
        ``dask.compute``-like.

    Returns
    -------
    kept : pandas.DataFrame
        The cities kept, in list order, index reset (``attrs`` keep the source
        and gain ``listed``, the length of the full list).
    discs : list
        ``(position in kept, rows, cols, mask)`` of each kept city's disc.
    """
    from pipeline.results.analytics import city_discs

    px, py = grid.from_crs(cities["lon"].to_numpy(), cities["lat"].to_numpy(), "EPSG:4326")
    rows, cols, inside = grid.cells_of(px, py)
    found = {n: (r, c, m) for n, r, c, m in city_discs(grid, cities, radius_km)}
    points = [(rows[[n]], cols[[n]], np.ones((1, 1), bool)) for n in range(len(cities))]
    (land_cells,) = compute(window_sums(da.asarray(land), points + list(found.values())))
    on_land = inside & (land_cells[: len(cities)] > 0)
    near = dict(zip(found, land_cells[len(cities) :] > 0, strict=True))
    keep, discs = [], []
    for n in range(len(cities)):
        if on_land[n] or near.get(n, False):
            if n in found:
                discs.append((len(keep), *found[n]))
            keep.append(n)
    kept = cities.iloc[keep].reset_index(drop=True)
    kept.attrs = {**cities.attrs, "listed": len(cities)}
    return kept, discs


def no_cities_note(kept: pd.DataFrame, radius_km: float) -> str:
    """A sentence on which cities are ranked, e.g. that none of the list is in range."""
    source = Path(kept.attrs.get("source", SHIPPED_CITIES)).name
    listed = kept.attrs.get("listed", len(kept))
    if len(kept):
        return (
            f"{len(kept)} of the {listed} cities of {source} lie on the study's land or "
            f"within {radius_km:g} km of it; the others are not ranked"
        )
    return (
        f"no city of {source} lies on the study's land or within {radius_km:g} km of it, so "
        "none is ranked; list the study's own cities in [regions] cities = 'file.csv' (columns "
        + ",".join(CITY_COLUMNS)
        + ")"
    )
