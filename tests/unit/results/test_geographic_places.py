"""``[regions] cities``: config validation and the city-list reader's errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import CRS, Geod

from pipeline.errors import ConfigError, InputFileError
from pipeline.grid.spec import GridSpec
from pipeline.results.analytics import city_discs
from pipeline.results.places import cities_on_land, read_cities
from pipeline.workflow.config import load_config

STUDY = """
[study]
country = "JPN"
[mrio]
global = "g"
[inventory]
files = "x.nc"
[regions]
boundaries = "b.geojson"
{cities}
[concordance]
file = "c.csv"
"""


def write_study(tmp_path, cities_line: str):
    path = tmp_path / "study.toml"
    path.write_text(STUDY.format(cities=cities_line))
    return path


def test_config_accepts_an_existing_csv(tmp_path):
    (tmp_path / "towns.csv").write_text("geonameid,name,lat,lon,population,province\n")
    config = load_config(write_study(tmp_path, 'cities = "towns.csv"'))
    assert config.regions.cities == "towns.csv"
    assert load_config(write_study(tmp_path, "")).regions.cities is None


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('cities = "missing.csv"', r"\[regions\] cities = 'missing.csv': no CSV file at"),
        ("cities = 3", r"\[regions\] cities = 3 should be of type str"),
        ('citys = "x.csv"', "did you mean 'cities'"),
    ],
)
def test_config_refuses_bad_cities(tmp_path, line, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write_study(tmp_path, line))


def test_reader_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "towns.csv"
    path.write_text("name,lat,lon\nA,1,2\n")
    with pytest.raises(InputFileError, match=r"towns.csv \(`cities`\): missing col"):
        read_cities(path)
    path.write_text("geonameid,name,lat,lon,population,province\n1,A,95,2,10,X\n")
    with pytest.raises(InputFileError, match="row 2 \\('A'\\) has lat = '95'"):
        read_cities(path)
    path.write_text("geonameid,name,lat,lon,population,province,extra\n1,A,10,20,5,X,y\n")
    frame = read_cities(path)
    assert list(frame.columns) == ["geonameid", "name", "lat", "lon", "population", "province"]
    assert frame["lat"].iloc[0] == 10.0


def test_disc_wraps_across_the_antimeridian():
    """A city at 179.9 E on a world grid takes cells on both sides of 180."""
    x = np.arange(-179.5, 180.0, 1.0)
    y = np.arange(89.5, -90.0, -1.0)
    grid = GridSpec.from_centres(x, y, CRS.from_epsg(4326))
    city = pd.DataFrame({"lon": [179.9], "lat": [0.2]})
    ((_, rows, cols, mask),) = list(city_discs(grid, city, 250.0))
    inside = {
        (float(y[rows[r]]), float(x[cols[c]])) for r, c in zip(*np.nonzero(mask), strict=True)
    }
    assert {(0.5, 179.5), (0.5, -179.5), (-0.5, 179.5), (-0.5, -179.5)} <= inside
    xx, yy = np.meshgrid(x, y)
    _, _, distance = Geod(ellps="WGS84").inv(
        np.full(xx.shape, 179.9), np.full(xx.shape, 0.2), xx, yy
    )
    expected = {
        (float(b), float(a))
        for a, b in zip(xx[distance <= 250e3], yy[distance <= 250e3], strict=True)
    }
    assert inside == expected and len(expected) > 10
    land = np.zeros(grid.y.shape + grid.x.shape, dtype=bool)
    land[89, 0] = True  # (0.5, -179.5), across the antimeridian
    kept, discs = cities_on_land(grid, city.assign(name="X"), land, 250.0)
    assert len(kept) == 1 and len(discs) == 1
