"""The report's scenario tables and text from a hand-made delta block."""

from __future__ import annotations

import json

import pandas as pd

from pipeline.results.report_scenarios import (
    TOP_CHANGES,
    change_rows,
    city_change_rows,
    declaration_text,
    largest_change,
    signed_mt,
)


def entry(before: float, after: float) -> dict:
    change = after - before
    return {
        "baseline_t": before,
        "scenario_t": after,
        "change_t": change,
        "change_pct": 100 * change / before if before else None,
    }


DELTA = {
    "by_province": {
        "CN-JS": entry(9.0e8, 8.9e8),
        "CN-GD": entry(8.0e8, 8.1e8),
        "CN-XZ": entry(0.0, 2.0e5),
        "CN-SH": entry(3.0e8, 2.95e8),
        "CN-BJ": entry(1.0e8, 1.0e8),
    },
    "by_consumer": {"USA": entry(8e8, 7e8), "JPN": entry(3e8, 3.2e8)},
    "by_group": {"BRI": entry(4e8, 5.5e8)},
}


def test_increases_and_decreases_by_province_are_the_delta_blocks_numbers():
    rise = change_rows(DELTA["by_province"], str, rise=True)
    fall = change_rows(DELTA["by_province"], str, rise=False)
    assert list(rise["region"]) == ["CN-GD", "CN-XZ"]  # by size; 0 change in neither
    assert list(fall["region"]) == ["CN-JS", "CN-SH"]
    assert list(rise["change"]) == ["+10.0 Mt", "+200 kt"]
    assert list(fall["change"]) == ["-10.0 Mt", "-5.00 Mt"]
    assert list(fall["change %"]) == ["-1.11 %", "-1.67 %"]
    assert rise["change %"].iloc[1] == "n/a"  # no baseline
    assert list(fall["baseline"]) == ["900.0 Mt", "300.0 Mt"]
    many = {f"R{n}": entry(100.0, 100.0 + n + 1) for n in range(25)}
    assert len(change_rows(many, str, rise=True)) == TOP_CHANGES
    assert signed_mt(-7.352e7) == "-73.5 Mt" and signed_mt(0.0) == "0 t"


def test_city_rows_and_the_largest_changer():
    table = pd.DataFrame(
        {"city": ["A", "B", "C", "D"], "province": ["P"] * 4, "t_co2": [5e5, 2e3, -1e6, -3.0]}
    )
    assert list(city_change_rows(table, rise=True)["urban area"]) == ["A", "B"]
    fall = city_change_rows(table, rise=False)
    assert list(fall["urban area"]) == ["C", "D"]
    assert list(fall["change of foreign-driven CO2"]) == ["-1.00 Mt", "-3.00 t"]
    assert largest_change(DELTA) == "BRI"  # a group's change beats every consumer's
    assert largest_change({"by_consumer": {"USA": entry(1.0, 1.0)}}) is None


def test_declaration_reads_as_toml():
    declared = {
        "name": "us_tariff_25",
        "final_demand": [{"consumer": ["USA"], "products_of": ["CHN"], "factor": 0.75}],
        "emissions": [{"region": ["CN-HE"], "sector": "power", "factor": 0.7}],
    }
    text = declaration_text({"scenario_declaration": json.dumps(declared)})
    import tomllib

    parsed = tomllib.loads(text)["scenario"][0]
    assert parsed["name"] == "us_tariff_25"
    assert parsed["final_demand"][0]["factor"] == 0.75
    assert parsed["emissions"][0]["sector"] == "power"
