"""Plain tables: ``domestic_regions`` defaults to ``[study] country``; a 0 t foreign total warns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import ConfigError
from pipeline.results.summary import _warnings
from pipeline.workflow.config import StudySettings
from pipeline.workflow.stages import _domestic_regions


class _Table:
    regions = ("USA", "JPN", "ROW")


def domestic(**study) -> tuple[str, ...]:
    settings = StudySettings(**{"country": "JPN", "domestic_regions": None, **study})
    return _domestic_regions(settings, _Table(), Path("study.toml"))


def test_domestic_regions_default_to_the_country_and_are_checked():
    assert domestic() == ("JPN",)
    assert domestic(domestic_regions=["USA", "JPN"]) == ("USA", "JPN")
    with pytest.raises(ConfigError, match=r"\[study\] country names \['CHN'\].*use some of"):
        domestic(country="CHN")
    with pytest.raises(ConfigError, match=r"\[study\] domestic_regions names \['XXX'\]"):
        domestic(domestic_regions=["XXX"])


def attribution(foreign: list[bool], values: list[float]) -> xr.DataArray:
    data = np.array(values, dtype=float).reshape(1, 1, len(foreign), 1)
    return xr.DataArray(
        data,
        dims=("region", "sector", "consumer", "category"),
        coords={"consumer": ["A", "B", "C"][: len(foreign)], "foreign": ("consumer", foreign)},
    )


def test_zero_foreign_total_warns_with_the_fix():
    (all_domestic,) = _warnings(attribution([False, False], [1.0, 2.0]), 0.0)
    assert "every consumer region is domestic" in all_domestic
    assert "[study] country" in all_domestic and "domestic_regions" in all_domestic
    (unreached,) = _warnings(attribution([False, True], [1.0, 0.0]), 0.0)
    assert "no foreign final demand reaches" in unreached
    assert _warnings(attribution([False, True], [1.0, 2.0]), 2.0) == []
