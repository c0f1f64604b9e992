"""The report's number formats, urban-area grouping and shared colour limits (no store)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from pipeline.results.maps import MapImage, log_limits
from pipeline.results.names import Names, label_text
from pipeline.results.report_tables import (
    digits_agreeing,
    km2,
    land_pct,
    merged_text,
    mt,
    pct,
    tonnes_text,
)
from pipeline.results.urban_areas import group_places, union_window


@pytest.mark.parametrize(
    ("tonnes", "text"),
    [(3.574037e9, "3,574.0 Mt"), (1.5e5, "0.1 Mt"), (9.9e4, "99.0 kt"), (12.34, "12.3 t")],
)
def test_mt(tonnes, text):
    assert mt(tonnes) == text


@pytest.mark.parametrize(
    ("tonnes", "text"),
    [(111.65, "112 t"), (1.1165e8, "112 Mt"), (24.04, "24.0 t"), (1234.0, "1.23 kt")],
)
def test_tonnes_text_has_three_digits(tonnes, text):
    assert tonnes_text(tonnes) == text


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (0.248, "24.8 %"),
        (0.009653, "0.97 %"),
        (0.0000314159, "0.0031 %"),
        (3.2e-12, "0.00000000032 %"),
        (0.0, "0 %"),
    ],
)
def test_pct(share, text):
    assert pct(share) == text
    assert "e" not in pct(share)


def test_land_pct_and_km2():
    assert land_pct(0.108028) == "10.80 %" and land_pct(0.0520139) == "5.20 %"
    assert km2(487500.0) == "487,500 km²" and km2(12.34) == "12.3 km²"


def test_digits_agreeing():
    assert digits_agreeing(8.64e-16) == 15
    assert digits_agreeing(3e-7) == 6
    assert digits_agreeing(0.0) == 16


def test_merged_text():
    assert merged_text(1, "") == "1"
    assert merged_text(3, "Puxi, Pudong") == "3 (with Puxi, Pudong)"
    assert merged_text(6, "a, b, c, d, e") == "6 (with a, b, c and 2 more)"


def test_names_prefer_the_study_then_the_shipped_data():
    names = Names({"USA": "United States"})
    assert names("USA") == "United States"
    assert names("CN-GD") == "Guangdong" and names("KOR") == "South Korea"
    assert names("ROW") == "rest of the world" and names("XX-YY") == "XX-YY"
    assert names.labelled("CN-SH") == "Shanghai (CN-SH)" and names.labelled("ZZ") == "ZZ"
    assert label_text("iron_steel") == "iron steel"


def test_urban_areas_merge_places_within_the_radius_of_a_larger_one_in_one_province():
    geod = Geod(ellps="WGS84")
    # A: the big city; B 10 km east of A; C 40 km east of A (outside A's 25 km disc);
    # D 10 km west of A but in another province; E 20 km east of C (joins C, not A).
    east = [geod.fwd(121.0, 31.0, 90.0, d * 1000.0)[0] for d in (10.0, 40.0, 60.0)]
    west = geod.fwd(121.0, 31.0, 270.0, 10_000.0)[0]
    cities = pd.DataFrame(
        {
            "name": ["B", "A", "C", "D", "E"],
            "lon": [east[0], 121.0, east[1], west, east[2]],
            "lat": [31.0] * 5,
            "population": [50, 1000, 300, 80, 20],
            "province": ["P", "P", "P", "Q", "P"],
        }
    )
    assert group_places(cities, 25.0, geod) == [[1, 0], [2, 4], [3]]


def test_union_window_counts_shared_cells_once():
    a = (np.array([2, 3]), np.array([5, 6]), np.array([[True, True], [True, False]]))
    b = (np.array([3, 4]), np.array([6, 8]), np.array([[True, True], [True, False]]))
    rows, cols, mask = union_window([a, b])
    assert rows.tolist() == [2, 3, 4] and cols.tolist() == [5, 6, 8]
    assert mask.tolist() == [[True, True, False], [True, True, True], [False, True, False]]


def test_log_limits_are_shared_by_all_panels():
    big = MapImage(np.array([[0.0, 10.0], [1e5, 5e5]]), (0, 1, 0, 1), 1)
    small = MapImage(np.array([[0.0, 2.0], [3.0, 400.0]]), (0, 1, 0, 1), 1)
    vmin, vmax = log_limits([big, small])
    assert vmax == 5e5
    assert vmin == pytest.approx(np.percentile([2.0, 3.0, 400.0], 1))
    assert log_limits([MapImage(np.zeros((2, 2)), (0, 1, 0, 1), 1)]) is None
    floor = log_limits([MapImage(np.r_[np.full(200, 1e-3), 1e6][None, :], (0, 1, 0, 1), 1)])
    assert floor[0] == pytest.approx(1.0)  # at most 6 decades


def test_city_polygons_replace_the_discs_when_the_study_has_them():
    from pipeline.results.report_tables import polygon_city_rows
    from pipeline.results.urban_areas import polygon_cities

    class WithPolygons:
        city_polygons = object()

        def rank(self, by, top):
            assert by == "city"
            table = pd.DataFrame(
                {
                    "city": ["A", "B"],
                    "t_co2": [2.5e6, 1e6],
                    "share": [0.25, 0.1],
                    "area_km2": [1234.5, 80.0],
                }  # fmt: skip
            )
            return table.head(top)

    class WithDiscs:
        city_polygons = None

    assert polygon_cities(WithDiscs(), 5) is None and polygon_cities(object(), 5) is None
    rows = polygon_city_rows(polygon_cities(WithPolygons(), 1))
    assert rows.to_dict("records") == [
        {
            "rank": 1,
            "city": "A",
            "foreign-driven CO2": "2.5 Mt",
            "share": "25.0 %",
            "area": "1,234 km²",
        }  # fmt: skip
    ]
