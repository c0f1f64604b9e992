"""``[regions] city_polygons``: a path, or a table with the path and the name field."""

from __future__ import annotations

import pytest
import shapely
from helpers.zone_files import write_zones

from pipeline.errors import ConfigError, InputFileError
from pipeline.results.places import stored_places
from pipeline.workflow.config import load_config
from pipeline.workflow.keys import naming_keys
from pipeline.workflow.stages import study_places

MINIMAL = """
[study]
country = "CHN"
[mrio]
global = "mrio/global"
[inventory]
files = {power = "power.tif"}
[regions]
boundaries = "b.geojson"
"""
TAIL = """
[concordance]
file = "c.csv"
"""


def load(tmp_path, line: str):
    path = tmp_path / "study.toml"
    path.write_text(MINIMAL + line + "\n" + TAIL)
    return load_config(path)


@pytest.fixture
def polygons(tmp_path):
    return write_zones(
        tmp_path / "cities.gpkg", ["Ville", "Town"], [shapely.box(0, 0, 1, 1)] * 2, field="nom"
    )


def test_a_path_or_a_table(tmp_path, polygons):
    assert load(tmp_path, "").regions.city_polygon_source is None
    config = load(tmp_path, 'city_polygons = "cities.gpkg"')
    assert config.regions.city_polygon_source == ("cities.gpkg", None)
    config = load(tmp_path, 'city_polygons = { path = "cities.gpkg", field = "nom" }')
    assert config.regions.city_polygon_source == ("cities.gpkg", "nom")
    recorded = stored_places(study_places(config.regions, config.paths))["city_polygons"]
    assert recorded == {"path": str(polygons), "field": "nom"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('city_polygons = "none.gpkg"', r"\[regions\] city_polygons: no file at .*none.gpkg"),
        ('city_polygons = { path = "cities.gpkg", feild = "nom" }', "did you mean 'field'"),
        ('city_polygons = { field = "nom" }', r"\[regions\] city_polygons needs a path"),
        ('city_polygons = { path = "cities.gpkg", field = 3 }', "field = 3 should be a string"),
        ("city_polygons = 3", "city_polygons = 3 should be of type str or dict"),
    ],
)
def test_bad_values_are_refused_when_the_config_loads(tmp_path, polygons, line, message):
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, line)
    assert "\n" not in str(info.value)


def test_a_bad_field_stops_the_run_naming_the_key(tmp_path, polygons):
    config = load(tmp_path, 'city_polygons = { path = "cities.gpkg", field = "name" }')
    with pytest.raises(InputFileError) as info, naming_keys():
        study_places(config.regions, config.paths)
    assert "no property 'name' ([regions] city_polygons); did you mean 'nom'?" in str(info.value)
