"""Test helper: a small Japan/Korea study on an EPSG:4326 grid (0.25 degree), built in tmp.

- Boundaries (its own GeoJSON): rough outlines of Honshu-Kyushu and Hokkaido as
  ``JPN``, South Korea as ``KOR`` and a block ``XXX`` on the Chinese coast that
  no MRIO region has (unmapped, no emissions). The boundary file therefore
  reaches further west than the land.
- Inventory: NetCDF flux in kg m-2 s-1 (EDGAR layout) on the land cells only;
  the grid also covers Shanghai, Qingdao and Dalian, off the study's land.
- MRIO: the demo's global table as a plain table, ``[study] country = "JPN"``.
- Cities: ``cities.csv`` with Japanese and Korean cities plus Paris and
  Shanghai, which must never be ranked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS

from helpers.geodesy import write_latlon_netcdf
from pipeline.demo.inventory import DEMO_SECTORS, demo_concordance
from pipeline.demo.mrio import make_demo_tables
from pipeline.grid.regions import GridSpec, rasterize_regions, read_regions
from pipeline.mrio.plain import write_plain
from pipeline.workflow.config import load_config
from pipeline.workflow.run import run_study

RESOLUTION = 0.25
WEST, EAST, SOUTH, NORTH = 118.0, 146.0, 30.0, 46.0

OUTLINES = {
    "JPN": [
        [
            (129.5, 31.0),
            (131.5, 31.0),
            (140.5, 34.5),
            (141.5, 38.0),
            (142.0, 41.2),
            (140.0, 41.2),
            (139.0, 38.5),
            (136.0, 36.8),
            (132.0, 35.5),
            (129.5, 34.0),
        ],
        [
            (139.8, 41.6),
            (141.5, 41.6),
            (145.5, 43.0),
            (145.5, 44.0),
            (142.0, 45.5),
            (141.0, 45.3),
            (139.8, 42.5),
        ],
    ],
    "KOR": [[(126.0, 34.5), (129.5, 35.0), (129.5, 38.5), (126.5, 38.0), (126.0, 37.0)]],
    "XXX": [[(118.0, 39.0), (121.0, 39.0), (121.0, 44.0), (118.0, 44.0)]],
}

CITIES = pd.DataFrame(
    [
        (1, "Tokyo", 35.6895, 139.69171, 8336599, "JP-13"),
        (2, "Yokohama", 35.44778, 139.6425, 3574443, "JP-14"),
        (3, "Osaka", 34.69374, 135.50218, 2592413, "JP-27"),
        (4, "Sapporo", 43.06667, 141.35, 1883027, "JP-01"),
        (5, "Seoul", 37.566, 126.9784, 10349312, "KR-11"),
        (6, "Busan", 35.10278, 129.04028, 3678555, "KR-26"),
        (7, "Paris", 48.85341, 2.3488, 2138551, "FR-75"),
        (8, "Shanghai", 31.22222, 121.45806, 24874500, "CN-SH"),
    ],
    columns=["geonameid", "name", "lat", "lon", "population", "province"],
)
#: The cities on the study's land: Japan's (Korea is mapped but abroad, as in summary.json).
IN_RANGE = {"Tokyo", "Yokohama", "Osaka", "Sapporo"}

STUDY = """
[study]
name = "Japan and Korea, 0.25 degree (synthetic)"
country = "JPN"
[mrio]
format = "plain"
global = "global"
[inventory]
files = "inventory.nc"
chunks = 32
[regions]
boundaries = "boundaries.geojson"
cities = "cities.csv"
[concordance]
file = "inventory_concordance.csv"
[output]
maps = true
"""


def write_boundaries(path: Path) -> None:
    """The study's boundary GeoJSON (EPSG:4326)."""
    features = [
        {
            "type": "Feature",
            "properties": {"code": code},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [[[list(p) for p in [*ring, ring[0]]]] for ring in rings],
            },
        }
        for code, rings in OUTLINES.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def grid_spec() -> GridSpec:
    """The 0.25 degree grid over 118-146 E, 30-46 N."""
    shape = (round((NORTH - SOUTH) / RESOLUTION), round((EAST - WEST) / RESOLUTION))
    transform = Affine(RESOLUTION, 0.0, WEST, 0.0, -RESOLUTION, NORTH)
    return GridSpec(CRS.from_epsg(4326), transform, shape)


def build_study(root: Path) -> tuple[Path, dict]:
    """Write the inputs to ``root``, run the study to ``root / "out"``; return it and the flux.

    Returns
    -------
    out : Path
        The results directory.
    inputs : dict
        ``flux`` (sector, y, x) in kg m-2 s-1 north-up, ``index`` the region raster
        and ``codes`` its codes.
    """
    root.mkdir(parents=True, exist_ok=True)
    write_plain(make_demo_tables().global_mrio, root / "global")
    write_boundaries(root / "boundaries.geojson")
    CITIES.to_csv(root / "cities.csv", index=False)
    demo_concordance().to_csv(root / "inventory_concordance.csv", index=False)
    regions = read_regions(root / "boundaries.geojson")
    grid = grid_spec()
    index = rasterize_regions(regions, grid)
    land = np.isin(index, [regions.codes.index("JPN"), regions.codes.index("KOR")])
    rng = np.random.default_rng(20)
    flux = rng.gamma(0.6, 2e-9, (len(DEMO_SECTORS), *grid.shape)) * land
    write_latlon_netcdf(root / "inventory.nc", grid, flux, DEMO_SECTORS)
    (root / "study.toml").write_text(STUDY)
    config = load_config(root / "study.toml")
    run_study(config, root / "out", connect=None, echo=lambda *_: None)
    return root / "out", {"flux": flux, "index": index, "codes": regions.codes}
