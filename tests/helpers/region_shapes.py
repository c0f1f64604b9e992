"""Test helper: the Albers CRS of the demo grid, square polygons and a hand-drawn grid."""

from __future__ import annotations

from affine import Affine
from pyproj import CRS

from pipeline.grid.regions import GridSpec

ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m"


def square(x0, y0, size):
    return {
        "type": "Polygon",
        "coordinates": [
            [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0)]
        ],
    }


def unit_grid(n=4):
    return GridSpec(CRS.from_epsg(3857), Affine(1.0, 0, 0, 0, -1.0, n), (n, n))
