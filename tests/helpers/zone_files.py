"""Test helper: zone files in every format, and an independent coverage-weighted sum.

The oracle shares no code with the package's zonal statistics: it intersects
every cell box with the polygon in shapely and weights each cell by the
intersected area over the cell's area.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
import shapely.geometry
from pyproj import CRS

#: Suffix -> OGR driver of the zone files the tests write.
DRIVERS = {".geojson": None, ".shp": "ESRI Shapefile", ".gpkg": "GPKG"}


def write_zones(path: Path, names, geoms, crs="EPSG:4326", field: str = "name") -> Path:
    """Write named polygons as GeoJSON (with a legacy crs member), Shapefile or GeoPackage."""
    path = Path(path)
    crs = CRS.from_user_input(crs)
    if path.suffix == ".geojson":
        doc = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {field: name},
                    "geometry": shapely.geometry.mapping(g),
                }
                for name, g in zip(names, geoms, strict=True)
            ],
        }
        if crs.to_epsg() != 4326:
            code = f"urn:ogc:def:crs:EPSG::{crs.to_epsg()}"
            doc["crs"] = {"type": "name", "properties": {"name": code}}
        path.write_text(json.dumps(doc))
        return path
    from pyogrio.raw import write

    wkb = np.array(
        [
            shapely.to_wkb(shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g)
            for g in geoms
        ],
        dtype=object,
    )
    write(
        path,
        wkb,
        [np.array(list(names), dtype=object)],
        [field],
        geometry_type="MultiPolygon",
        crs=crs.to_wkt(),
        driver=DRIVERS[path.suffix],
    )
    return path


def edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges from equally spaced cell centres (same order)."""
    step = centres[1] - centres[0]
    return np.append(centres - step / 2, centres[-1] + step / 2)


def coverage_weighted_sum(values: np.ndarray, x: np.ndarray, y: np.ndarray, polygon) -> float:
    """``sum_g values[g] * area(cell_g & polygon) / area(cell_g)`` with shapely, cell by cell.

    Parameters
    ----------
    values : numpy.ndarray
        ``(ny, nx)`` layer.
    x, y : numpy.ndarray
        Cell centres (``y`` descending), in the polygon's CRS.
    polygon : shapely geometry
        The zone in the grid's CRS.
    """
    xe, ye = edges(np.asarray(x, float)), edges(np.asarray(y, float))
    minx, miny, maxx, maxy = polygon.bounds
    cols = np.flatnonzero((xe[1:] > minx) & (xe[:-1] < maxx))
    rows = np.flatnonzero((ye[:-1] > miny) & (ye[1:] < maxy))
    r, c = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
    boxes = shapely.box(xe[c], ye[r + 1], xe[c + 1], ye[r])
    fraction = shapely.area(shapely.intersection(boxes, polygon)) / shapely.area(boxes)
    return float((np.asarray(values, float)[r, c] * fraction).sum())


def ring(cx: float, cy: float, rx: float, ry: float, n: int, wobble: float = 0.15):
    """A star-shaped polygon of ``n`` vertices around (cx, cy): cuts cells at many angles."""
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    scale = 1 + wobble * np.sin(5 * angle)
    return shapely.Polygon(
        np.column_stack([cx + rx * scale * np.cos(angle), cy + ry * scale * np.sin(angle)])
    )
