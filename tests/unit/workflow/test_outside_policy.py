"""``[regions] outside``: a raster code, an MRIO region, or an error with a suggestion."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.workflow.stages import outside_position

CODES = ("JP-13", "JP-27", "KR-11")
MRIO = ["JPN", "KOR", "ROW"]


def test_raster_code_is_used_in_place():
    assert outside_position("JP-27", CODES, MRIO) == 1


def test_mrio_region_becomes_a_new_code():
    assert outside_position("ROW", CODES, MRIO) == len(CODES)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"outside = 'RWO'.*did you mean 'ROW'"):
        outside_position("RWO", CODES, MRIO)
