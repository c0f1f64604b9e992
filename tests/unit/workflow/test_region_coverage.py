"""Region coverage and the outside policy on hand-made totals and a 3 x 4 grid (no cluster)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import ConfigError, GridError, MRIOError
from pipeline.workflow.config import RegionSettings
from pipeline.workflow.keys import naming_keys
from pipeline.workflow.stages import GridInputs, check_region_coverage, map_producers

SOURCE = Path("regions.geojson")
CODES = ("CN-GD", "CN-SC", "CN-XX")


def totals(*rows: list[float]) -> np.ndarray:
    """``(n_codes + 1, n_sectors)``: one row per code, the last outside every region."""
    return np.array(rows, dtype=float)


def coverage(table, code_rows, outside="error"):
    return check_region_coverage(table, CODES, np.array(code_rows), outside=outside, source=SOURCE)


def test_every_emitting_region_covered_and_nothing_outside():
    assert coverage(totals([1, 2], [3, 0], [0, 0], [0, 0]), [0, 1, -1]) is None


def test_an_emitting_region_without_mrio_rows_is_refused_with_the_fix():
    with pytest.raises(MRIOError) as info:
        coverage(totals([1, 2], [3, 0], [0, 5], [0, 0]), [0, 1, -1])
    message = str(info.value)
    assert "raster region(s) ['CN-XX'] of regions.geojson have emissions" in message
    assert "[regions] aliases" in message


def test_emissions_outside_every_region_stop_the_run_by_default():
    with pytest.raises(GridError) as info:
        coverage(totals([1, 2], [3, 0], [0, 0], [0.5, 1.0]), [0, 1, -1])
    message = str(info.value)
    assert message.startswith("1.5 t of emissions lie outside every region of regions.geojson")
    assert "set [regions] outside = '<region code>'" in message


def test_a_named_outside_region_takes_them():
    assert coverage(totals([1, 2], [3, 0], [0, 0], [0.5, 1.0]), [0, 1, -1], "CN-SC") == "CN-SC"


def test_orphans_are_refused_before_the_outside_policy():
    with pytest.raises(MRIOError, match="CN-XX"):
        coverage(totals([1, 2], [3, 0], [0, 5], [0.5, 0]), [0, 1, -1], "CN-SC")


def grid(index: list[list[int]], emissions: list[list[float]], codes=CODES) -> GridInputs:
    """A one-sector grid, lazy like the ingested one."""
    e = xr.DataArray(np.array([emissions], dtype=float), dims=("sector", "y", "x")).chunk(2)
    r = xr.DataArray(np.array(index, dtype=np.int32), dims=("y", "x")).chunk(2)
    return GridInputs(e, r, tuple(codes), Path("inventory.zarr"), {"boundaries": SOURCE})


def region_totals_of(g: GridInputs) -> np.ndarray:
    from pipeline.workflow.stages import region_totals

    return region_totals(g)


INDEX = [[0, 0, 1, -1], [0, 1, 1, -1], [2, 2, -1, -1]]
EMISSIONS = [[1, 1, 2, 0], [1, 2, 2, 4], [0, 0, 0, 0]]
MRIO = ["CN-GD", "CN-SC", "JPN", "ROW"]


def test_producers_follow_the_names_aliases_and_default_region():
    g = grid(INDEX, [[1, 1, 2, 0], [1, 2, 2, 0], [3, 3, 0, 0]])
    settings = RegionSettings(boundaries="b.geojson", aliases={"CN-XX": "JPN"})
    _, _, producer_of_code, producers = map_producers(settings, MRIO, g, region_totals_of(g))
    assert producers == ["CN-GD", "CN-SC", "JPN"]
    assert producer_of_code.tolist() == [0, 1, 2]
    fallback = RegionSettings(boundaries="b.geojson", default_region="ROW")
    _, _, producer_of_code, producers = map_producers(fallback, MRIO, g, region_totals_of(g))
    assert producers == ["CN-GD", "CN-SC", "ROW"] and producer_of_code.tolist() == [0, 1, 2]


def test_outside_emissions_go_to_a_raster_region():
    g = grid(INDEX, EMISSIONS)
    settings = RegionSettings(boundaries="b.geojson", outside="CN-SC")
    moved, moved_totals, producer_of_code, producers = map_producers(
        settings, MRIO, g, region_totals_of(g)
    )
    assert moved.region_codes == CODES and producers == ["CN-GD", "CN-SC"]
    np.testing.assert_array_equal(
        moved.region_index.values, [[0, 0, 1, -1], [0, 1, 1, 1], [2, 2, -1, -1]]
    )
    assert moved_totals[:, 0].tolist() == [3.0, 10.0, 0.0, 0.0]
    assert producer_of_code.tolist() == [0, 1, -1]  # CN-XX emits nothing: no producer


def test_outside_emissions_go_to_an_mrio_region_added_as_a_code():
    g = grid(INDEX, EMISSIONS)
    settings = RegionSettings(boundaries="b.geojson", outside="ROW")
    moved, moved_totals, producer_of_code, producers = map_producers(
        settings, MRIO, g, region_totals_of(g)
    )
    assert moved.region_codes == (*CODES, "ROW")
    assert moved.region_index.values[1, 3] == 3 and moved.region_index.values[0, 3] == -1
    assert moved_totals[:, 0].tolist() == [3.0, 6.0, 0.0, 4.0, 0.0]
    assert producers == ["CN-GD", "CN-SC", "ROW"]
    assert producer_of_code.tolist() == [0, 1, -1, 2]


def test_a_misspelt_outside_region_suggests_the_closest():
    g = grid(INDEX, EMISSIONS)
    settings = RegionSettings(boundaries="b.geojson", outside="RWO")
    with pytest.raises(ConfigError, match=r"\[regions\] outside = 'RWO'.*did you mean 'ROW'"):
        map_producers(settings, MRIO, g, region_totals_of(g))


def test_bad_alias_targets_name_the_keys_through_the_workflow():
    g = grid(INDEX, EMISSIONS)
    for settings, key in (
        (RegionSettings(boundaries="b.geojson", aliases={"CN-XX": "XXX"}), "aliases"),
        (RegionSettings(boundaries="b.geojson", default_region="RWO"), "default_region"),
    ):
        with pytest.raises(ConfigError, match=f"^`{key}`"):
            map_producers(settings, MRIO, g, region_totals_of(g))
        with pytest.raises(ConfigError, match=rf"^\[regions\] {key}"), naming_keys():
            map_producers(settings, MRIO, g, region_totals_of(g))
