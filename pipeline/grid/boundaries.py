"""Read boundary files into per-feature properties, geometries and a CRS.

* **GeoJSON**: a FeatureCollection object (UTF-8, a byte order mark is accepted).
  Each feature must be an object; its geometry must be null or one that shapely
  can build; a legacy ``crs`` member (``{"type": "name", "properties": {"name":
  ...}}``) must name a CRS that pyproj knows, otherwise EPSG:4326 (RFC 7946).
* **Any OGR vector file** (Shapefile, GeoPackage, ...) through ``pyogrio``.

Every problem raises :class:`~pipeline.errors.InputFileError` naming the file,
the feature and the fix. :func:`pipeline.grid.regions.read_regions` builds the
regions from what these return.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely
import shapely.geometry
from pyproj import CRS
from pyproj.exceptions import CRSError

from pipeline.errors import GridError, InputFileError
from pipeline.textfiles import read_text

#: How a GeoJSON file must look, for the messages.
GEOJSON_FIX = 'write a FeatureCollection: {"type": "FeatureCollection", "features": [...]}'


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", type(None): "null", dict: "an object"}
    return names.get(type(value), f"a {type(value).__name__}")


def read_geojson(path: Path) -> tuple[list[dict], list[dict | None], CRS]:
    """Properties, geometries and CRS of the features of a GeoJSON FeatureCollection."""
    try:
        doc = json.loads(read_text(path))
    except ValueError as exc:
        raise InputFileError(
            f"{path}: not valid JSON ({exc}), so not GeoJSON; {GEOJSON_FIX}"
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
        what = _kind(doc) if not isinstance(doc, dict) else "an object without a features list"
        raise InputFileError(f"{path}: is {what}, not a GeoJSON FeatureCollection; {GEOJSON_FIX}")
    props, geoms = [], []
    for n, feature in enumerate(doc["features"]):
        if not isinstance(feature, dict):
            raise InputFileError(
                f"{path}: feature {n} is {_kind(feature)}, not a GeoJSON Feature object; "
                'write it as {"type": "Feature", "properties": {...}, "geometry": {...}}'
            )
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise InputFileError(
                f"{path}: feature {n} has properties that are {_kind(properties)}; "
                "make them an object holding the region code"
            )
        props.append(properties)
        geoms.append(_checked_geometry(feature.get("geometry"), path, n))
    return props, geoms, _geojson_crs(doc.get("crs"), path)


def _checked_geometry(geometry: Any, path: Path, n: int) -> dict | None:
    """``geometry`` if null or buildable by shapely; else an error naming feature ``n``."""
    if geometry is None:
        return None
    try:
        if not isinstance(geometry, dict):
            raise TypeError(f"it is {_kind(geometry)}")
        shapely.geometry.shape(geometry)
    except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.ShapelyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(
            f"{path}: feature {n} has an invalid geometry ({reason}); fix its coordinates "
            "(e.g. ogr2ogr -makevalid) or drop the feature"
        ) from exc
    return geometry


def _geojson_crs(member: Any, path: Path) -> CRS:
    """The CRS of a legacy ``crs`` member, or EPSG:4326 without one."""
    if member is None:
        return CRS.from_user_input("EPSG:4326")
    fix = (
        "remove the crs member (GeoJSON is EPSG:4326) or write "
        '{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}'
    )
    name = member.get("properties", {}) if isinstance(member, dict) else None
    name = name.get("name") if isinstance(name, dict) else None
    if not isinstance(name, str):
        raise InputFileError(f"{path}: the crs member {member!r} names no CRS; {fix}")
    try:
        return CRS.from_user_input(name)
    except CRSError as exc:
        raise InputFileError(
            f"{path}: the crs member names {name!r}, which is not a known CRS; {fix}"
        ) from exc


def read_ogr(path: Path, layer: str | int | None) -> tuple[list[dict], list[dict], CRS]:
    """Properties, geometries and CRS of an OGR vector file (needs ``pyogrio``)."""
    try:
        from pyogrio.raw import read
    except ImportError as exc:
        raise InputFileError(
            f"{path}: reading Shapefile/GeoPackage needs pyogrio; pip install pyogrio "
            "or convert the file to GeoJSON (ogr2ogr -f GeoJSON out.geojson in.shp)"
        ) from exc
    try:
        meta, _, wkb, values = read(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own DataSource/DataLayer errors
        raise InputFileError(f"{path}: cannot read as a vector file ({exc})") from exc
    if meta.get("crs") is None:
        raise GridError(f"{path}: boundary file has no CRS; add a .prj or convert to GeoJSON")
    names = list(meta["fields"])
    props = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    if not names:
        props = [{} for _ in wkb]
    geoms = [shapely.geometry.mapping(g) for g in shapely.from_wkb(wkb)]
    return props, geoms, CRS.from_user_input(meta["crs"])
