"""Library messages name arguments; the workflow shows the TOML keys."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError, InputFileError
from pipeline.grid.region_raster import region_index_from_raster
from pipeline.grid.regions import read_regions
from pipeline.resources import data_file
from pipeline.workflow.keys import naming_keys, with_keys


def test_region_keys_are_the_real_toml_keys():
    assert with_keys("check `raster` and `raster_codes`") == (
        "check [regions] raster and [regions] raster_codes"
    )
    assert with_keys("set `code_field`; list `boundaries`") == (
        "set [regions] code_field; list [regions] boundaries"
    )


def test_a_wrong_code_field_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"set \[regions\] code_field to one of") as caught:
        with naming_keys():
            read_regions(data_file("china_provinces.geojson"), code_field="nope")
    assert "`" not in str(caught.value)


def test_a_missing_region_raster_names_the_key(tmp_path):
    with pytest.raises(InputFileError, match=r"c.csv: .* check \[regions\] raster_codes$"):
        with naming_keys():
            region_index_from_raster(tmp_path / "none.tif", None, codes_csv=tmp_path / "c.csv")
    (tmp_path / "c.csv").write_text("id,code\n1,CN-GD\n")
    with pytest.raises(InputFileError, match=r"none.tif: .* check \[regions\] raster$"):
        with naming_keys():
            region_index_from_raster(tmp_path / "none.tif", None, codes_csv=tmp_path / "c.csv")
