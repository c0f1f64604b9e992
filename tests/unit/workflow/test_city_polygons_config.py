"""``[regions] city_polygons``: a path, or a table with the path and the name field."""

from __future__ import annotations

import pytest
import shapely
from helpers.zone_files import write_zones

from pipeline.errors import ConfigError, InputFileError
from pipeline.resources import config_file
from pipeline.results.places import stored_places
from pipeline.workflow.config import load_config
from pipeline.workflow.keys import naming_keys
from pipeline.workflow.stages import study_places


def load(tmp_path, value=None):
    """``config/demo.toml`` with inputs in ``tmp_path`` and ``[regions] city_polygons = value``."""
    config = load_config(config_file("demo.toml"), inputs=tmp_path)
    return config.with_overrides(regions={"city_polygons": value})


@pytest.fixture
def polygons(tmp_path):
    return write_zones(
        tmp_path / "cities.gpkg", ["Ville", "Town"], [shapely.box(0, 0, 1, 1)] * 2, field="nom"
    )


def test_a_path_or_a_table(tmp_path, polygons):
    assert load(tmp_path).regions.city_polygon_source is None
    config = load(tmp_path, "cities.gpkg")
    assert config.regions.city_polygon_source == ("cities.gpkg", None)
    config = load(tmp_path, {"path": "cities.gpkg", "field": "nom"})
    assert config.regions.city_polygon_source == ("cities.gpkg", "nom")
    recorded = stored_places(study_places(config.regions, config.paths))["city_polygons"]
    assert recorded == {"path": str(polygons), "field": "nom"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("none.gpkg", r"\[regions\] city_polygons: no file at .*none.gpkg"),
        ({"path": "cities.gpkg", "feild": "nom"}, "did you mean 'field'"),
        ({"field": "nom"}, r"\[regions\] city_polygons needs a path"),
        ({"path": "cities.gpkg", "field": 3}, "field = 3 should be a string"),
        (3, "city_polygons = 3 should be of type str or dict"),
    ],
)
def test_bad_values_are_refused_when_the_config_loads(tmp_path, polygons, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, value)
    assert "\n" not in str(info.value)


def test_a_bad_field_stops_the_run_naming_the_key(tmp_path, polygons):
    config = load(tmp_path, {"path": "cities.gpkg", "field": "name"})
    with pytest.raises(InputFileError) as info, naming_keys():
        study_places(config.regions, config.paths)
    assert "no property 'name' ([regions] city_polygons); did you mean 'nom'?" in str(info.value)
