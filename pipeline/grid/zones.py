"""Zones for zonal statistics: named polygons in any CRS, read from any vector file.

Sources: GeoJSON (built in), Shapefile, GeoPackage or any other OGR vector
source (through ``pyogrio``, with :mod:`pipeline.grid.boundaries`' readers), or
geometries given in Python (:meth:`Zones.from_geometries`).

- **Names.** A zone is named by the ``field`` property of its feature; without
  ``field``, by the first property whose values are all text, else by its
  position in the file (``"0"``, ``"1"``, ...).
- **Polygons only.** Every feature must be a Polygon or MultiPolygon (the
  polygons of a GeometryCollection are kept). An invalid polygon (a bow tie, a
  self-touching ring) is repaired with ``shapely.make_valid`` and a warning.
- **Reprojection** (:meth:`Zones.to_crs`). Edges are first split into pieces
  of at most :data:`DENSIFY_DEGREES` (geographic CRS) or
  :data:`DENSIFY_METRES`, so that a straight edge in the zones' CRS stays
  within a metre of its true curve in the grid's CRS; then every vertex is
  transformed with pyproj. Polygons across the antimeridian are not split.

Every problem raises :class:`~pipeline.errors.InputFileError` naming the file,
the feature and the fix. Library messages name the arguments in backquotes
(`` `zones` ``, `` `field` ``); callers pass their own names (``--zones``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from pyproj import CRS, Transformer

from pipeline.errors import GridError, InputFileError
from pipeline.grid.boundaries import read_geojson, read_ogr
from pipeline.textfiles import check_exists

#: Longest edge, in degrees, of zones in a geographic CRS before reprojection.
DENSIFY_DEGREES = 0.05
#: Longest edge, in metres, of zones in a projected CRS before reprojection.
DENSIFY_METRES = 5_000.0
#: Vector formats named in messages.
ZONE_FORMATS = "GeoJSON, Shapefile or GeoPackage"


@dataclass(frozen=True)
class Zones:
    """Named polygons and their CRS.

    Attributes
    ----------
    names : tuple of str
        One name per zone (not necessarily unique).
    geometries : tuple of shapely geometries
        Polygons or MultiPolygons, in :attr:`crs`.
    crs : pyproj.CRS
        CRS of the coordinates.
    source : str
        Where they come from (a file), for messages.
    warnings : tuple of str
        Sentences about repaired polygons.
    """

    names: tuple[str, ...]
    geometries: tuple[Any, ...]
    crs: CRS
    source: str
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_geometries(
        cls, geometries: Mapping[str, Any] | Sequence[Any], crs, *, source: str = "zones"
    ) -> Zones:
        """Zones from shapely geometries or GeoJSON-like mappings.

        Parameters
        ----------
        geometries : mapping or sequence
            ``{name: geometry}``, or a sequence (named by position).
        crs : pyproj.CRS or any CRS input
            CRS of the coordinates.
        source : str
            Name used in messages.
        """
        if isinstance(geometries, Mapping):
            names, geoms = [str(k) for k in geometries], list(geometries.values())
        else:
            geoms = list(geometries)
            names = [str(n) for n in range(len(geoms))]
        shapes = [g if isinstance(g, shapely.Geometry) else _shape(g) for g in geoms]
        return _checked_zones(source, names, shapes, CRS.from_user_input(crs), "`zones`")

    def to_crs(self, crs) -> Zones:
        """The zones reprojected to ``crs`` (edges densified first; see the module)."""
        target = CRS.from_user_input(crs)
        if target.equals(self.crs, ignore_axis_order=True):
            return self
        transformer = Transformer.from_crs(self.crs, target, always_xy=True)
        step = DENSIFY_DEGREES if self.crs.is_geographic else DENSIFY_METRES / _metres(self.crs)

        def move(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

        moved = []
        for n, geom in enumerate(self.geometries):
            out = shapely.transform(shapely.segmentize(geom, step), move)
            if not np.isfinite(shapely.get_coordinates(out)).all():
                raise InputFileError(
                    f"{self.source}: zone {self.names[n]!r} (feature {n}) cannot be "
                    f"reprojected from {self.crs.name} to the grid's {target.name} (it "
                    "reaches where that projection is undefined); clip it to the grid's area"
                )
            moved.append(out if out.is_valid else _polygonal(shapely.make_valid(out)))
        return replace(self, geometries=tuple(moved), crs=target)


def _metres(crs: CRS) -> float:
    """Metres per unit of a projected CRS's first axis (1 without axis information)."""
    axes = crs.axis_info
    return float(axes[0].unit_conversion_factor) if axes else 1.0


def _shape(geometry: Any):
    """A shapely geometry from a GeoJSON-like mapping (None stays None)."""
    return None if geometry is None else shapely.geometry.shape(geometry)


def read_zones(
    path: str | Path,
    field: str | None = None,
    *,
    option: str = "`zones`",
    field_option: str = "`field`",
) -> Zones:
    """Read named polygons from a GeoJSON, Shapefile, GeoPackage or other vector file.

    Parameters
    ----------
    path : str or Path
        The vector file (its first layer).
    field : str, optional
        Property holding each zone's name; default the first text property,
        else the feature's position.
    option, field_option : str
        How the caller names the file and the field in messages (e.g.
        ``--zones`` and ``--field``).

    Returns
    -------
    Zones

    Raises
    ------
    InputFileError
        If the file is missing or unreadable, has no CRS, no polygon, a
        feature that is not a polygon, or no property ``field``.
    """
    path = check_exists(path, what="zones file", fix=f"check {option}")
    props, geoms, crs = _read_features(path, option)
    if not geoms or all(g is None for g in geoms):
        raise InputFileError(
            f"{path}: the zones file holds no polygons; give {option} a {ZONE_FORMATS} "
            "file of polygons"
        )
    names = _names(path, props, field, field_option)
    return _checked_zones(str(path), names, [_shape(g) for g in geoms], crs, option)


def _read_features(path: Path, option: str) -> tuple[list[dict], list, CRS]:
    """Properties, GeoJSON-like geometries and CRS of a vector file's features."""
    fix = f"give {option} a {ZONE_FORMATS} file of polygons"
    if path.suffix.lower() in (".geojson", ".json"):
        return read_geojson(path)
    from pyogrio import read_info

    try:
        info = read_info(path)
    except Exception as exc:  # pyogrio raises its own DataSource/DataLayer errors
        reason = str(exc).replace(f"'{path}' ", "").split(".;")[0].splitlines()[0]
        raise InputFileError(f"{path}: cannot read the zones file ({reason}); {fix}") from exc
    if info.get("geometry_type") is None:
        raise InputFileError(f"{path}: the zones file has no geometry column; {fix}")
    try:
        return read_ogr(path, None)
    except GridError as exc:  # no CRS
        raise InputFileError(
            f"{path}: the zones file has no CRS; add its .prj or convert it to GeoJSON "
            f"(EPSG:4326) or GeoPackage ({option})"
        ) from exc


def _names(path: Path, props: list[dict], field: str | None, field_option: str) -> list[str]:
    """Each feature's name: its ``field`` value, the first text property, or its position."""
    keys = list(dict.fromkeys(k for p in props for k in p))
    if field is not None:
        if field not in keys:
            same_case = [k for k in keys if k.lower() == field.lower()]
            close = same_case or difflib.get_close_matches(field, keys, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputFileError(
                f"{path}: the zones have no property {field!r} ({field_option}); {hint}"
                f"properties: {keys or 'none'}"
            )
        chosen = field
    else:
        text = [k for k in keys if _all_text(p.get(k) for p in props)]
        if not text:
            return [str(n) for n in range(len(props))]
        chosen = text[0]
    return [str(n) if p.get(chosen) is None else str(p[chosen]) for n, p in enumerate(props)]


def _all_text(values) -> bool:
    """Whether every non-null value is a string, and one at least."""
    found = [v for v in values if v is not None]
    return bool(found) and all(isinstance(v, str) for v in found)


def _checked_zones(source: str, names: list[str], shapes: list, crs: CRS, option: str) -> Zones:
    """Zones after the polygon checks; invalid polygons repaired with a warning."""
    if not shapes:
        raise InputFileError(f"{source}: no zones; give {option} at least one polygon")
    kept, notes = [], []
    for n, (name, shape) in enumerate(zip(names, shapes, strict=True)):
        where = f"{source}: zone {name!r} (feature {n})"
        if shape is None or shape.is_empty:
            raise InputFileError(f"{where} has no geometry; give it a polygon or drop it")
        polygonal = _polygonal(shape)
        if polygonal.is_empty:
            raise InputFileError(
                f"{where} is a {shape.geom_type}, not a polygon; zones must be Polygon or "
                f"MultiPolygon features ({option})"
            )
        if not polygonal.is_valid:
            polygonal = _polygonal(shapely.make_valid(polygonal))
            notes.append(f"{where} is not a valid polygon; it was repaired (make_valid)")
        kept.append(polygonal)
    return Zones(tuple(names), tuple(kept), crs, source, tuple(notes))


def _polygonal(geometry):
    """The polygons of a geometry (of a collection's members), as one geometry."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = shapely.get_parts(geometry)
    polygons = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        return shapely.Polygon()
    return shapely.union_all(polygons)
