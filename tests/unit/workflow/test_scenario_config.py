"""``[groups]`` and ``[[scenario]]``: each validation error is one line naming scenario and key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ConfigError
from pipeline.mrio.model import MRIO
from pipeline.workflow.config import load_config
from pipeline.workflow.scenarios import (
    StudyCodes,
    demand_change,
    emission_factors,
    resolve_groups,
    resolve_scenario,
)

MINIMAL = """
[study]
country = "CHN"
[mrio]
global = "g"
[inventory]
files = {power = "p.tif"}
[regions]
boundaries = "b.geojson"
[concordance]
file = "c.csv"
"""
SHOCK = """
[[scenario]]
name = "tariff"
[[scenario.final_demand]]
consumer = "USA"
products_of = "CHN"
factor = 0.75
"""


def load(tmp_path, extra: str):
    """The minimal study with ``extra`` appended (top-level keys in it go first)."""
    path = tmp_path / "study.toml"
    path.write_text(extra + MINIMAL if extra.startswith("groups =") else MINIMAL + extra)
    return load_config(path)


def refused(tmp_path, extra: str, *fragments: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, extra)
    text = str(info.value)
    assert "\n" not in text and str(tmp_path / "study.toml") in text
    for fragment in fragments:
        assert fragment in text, text
    return text


def test_groups_and_scenarios_load_typed(tmp_path):
    config = load(tmp_path, '[groups]\nBRI = ["RUS", "IND"]\n' + SHOCK)
    assert config.groups == {"BRI": ("RUS", "IND")}
    (scenario,) = config.scenarios
    assert scenario.name == "tariff" and scenario.emissions == ()
    (shock,) = scenario.final_demand
    assert (shock.consumer, shock.products_of, shock.category) == (("USA",), ("CHN",), "all")
    assert shock.factor == 0.75 and shock.divert_to == ()
    # the CLI's overrides keep them
    assert config.with_overrides(output={"maps": False}).scenarios == config.scenarios


STRUCTURAL = [
    ("factor = 0.75", "factor = -0.5", ["scenario 'tariff'", "factor = -0.5", "negative"]),
    ("factor = 0.75", "factor = nan", ["scenario 'tariff'", "factor = nan"]),
    ("factor = 0.75", "factor = inf", ["scenario 'tariff'", "factor = inf"]),
    ("factor = 0.75", "factor = 1e9", ["scenario 'tariff'", "[0, 1000]"]),
    ("factor = 0.75", 'factor = "0.75"', ["scenario 'tariff'", "factor = '0.75'", "float"]),
    ("factor = 0.75", "factor = true", ["scenario 'tariff'", "factor = True"]),
    ("factor = 0.75", "factr = 0.75", ["scenario 'tariff'", "'factr'", "did you mean 'factor'"]),
    ('consumer = "USA"', "", ["scenario 'tariff'", "consumer is required"]),
    ('consumer = "USA"', "consumer = []", ["scenario 'tariff'", "consumer = []"]),
    ('consumer = "USA"', "consumer = [1]", ["scenario 'tariff'", "consumer = [1]"]),
    ('category = "all"', "category = 1", ["scenario 'tariff'", "category = 1"]),
    ('name = "tariff"', 'name = "../x"', ["[[scenario]] 1", "name = '../x'", "directory"]),
    ('name = "tariff"', "", ["[[scenario]] 1", "name is required"]),
]


@pytest.mark.parametrize(("old", "new", "fragments"), STRUCTURAL)
def test_each_structural_error_names_the_scenario_and_the_key(tmp_path, old, new, fragments):
    text = SHOCK.replace("factor = 0.75", 'factor = 0.75\ncategory = "all"')
    refused(tmp_path, text.replace(old, new), *fragments)


def test_two_scenarios_with_one_name(tmp_path):
    refused(tmp_path, SHOCK + SHOCK, "name = 'tariff' is declared twice")


def test_a_scenario_without_shocks_and_bad_tables(tmp_path):
    refused(tmp_path, '[[scenario]]\nname = "empty"\n', "scenario 'empty'", "declares no shock")
    refused(tmp_path, '[scenario]\nname = "x"\n', "scenario must be a list")
    refused(tmp_path, 'groups = ["x"]\n', "groups must be a [groups] table")
    refused(tmp_path, "[groups]\nBRI = 3\n", "[groups] BRI = 3")
    refused(tmp_path, "[grops]\n", "unknown section 'grops'", "did you mean 'groups'")
    emissions = '[[scenario]]\nname = "e"\n[[scenario.emissions]]\nregion = "X"\nsector = "p"\n'
    refused(
        tmp_path, emissions + "factor = -1\n", "scenario 'e', [[scenario.emissions]] 1", "factor"
    )
    refused(tmp_path, emissions, "scenario 'e', [[scenario.emissions]] 1", "factor is required")


# ---------------------------------------------------------------- against the table
REGIONS = ["USA", "JPN", "CN-A", "CN-B"]
SECTORS = ["farm", "steel"]
CATEGORIES = ["households", "investment"]


@pytest.fixture
def table() -> MRIO:
    rows = pd.MultiIndex.from_product([REGIONS, SECTORS], names=["region", "sector"])
    fd = pd.MultiIndex.from_product([REGIONS, CATEGORIES], names=["region", "category"])
    rng = np.random.default_rng(3)
    z = rng.uniform(0, 1, (8, 8))
    y = rng.uniform(1, 5, (8, 8))
    y[rows.get_level_values(0) == "JPN", 0] = 0.0  # USA households buy nothing from JPN
    x = z.sum(1) + y.sum(1)
    return MRIO(z, y, x, rng.uniform(1, 2, 8), None, rows, fd)


@pytest.fixture
def codes() -> StudyCodes:
    return StudyCodes(
        consumers=tuple(REGIONS),
        regions=tuple(REGIONS),
        categories=tuple(CATEGORIES),
        sectors=("power", "cement"),
        country="CN",
        provinces=("CN-A", "CN-B"),
    )


def resolve(tmp_path, extra, table, codes, groups=None):
    config = load(tmp_path, extra)
    groups = resolve_groups(groups or config.groups, codes, source="s.toml")
    resolved = resolve_scenario(config.scenarios[0], groups, codes, table, source="s.toml")
    return resolved, demand_change(table, resolved, source="s.toml")


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        ('"USA"', '"USX"', ("consumer names 'USX'", "did you mean 'USA'", "USA, JPN, CN-A")),
        ('"CN"', '"CN-C"', ("products_of names 'CN-C'", "USA, JPN, CN-A, CN-B, CN")),
        ("factor = 0.75", 'factor = 0.75\ncategory = "food"', ("category names 'food'",)),
        ("factor = 0.75", 'factor = 0.75\ndivert_to = ["CN-A"]', ("divert_to and products_of",)),
        ("factor = 0.75", 'factor = 0.75\ndivert_to = ["XX"]', ("divert_to names 'XX'",)),
    ],
)
def test_unknown_codes_list_the_valid_ones(tmp_path, table, codes, old, new, fragments):
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, SHOCK.replace('"CHN"', '"CN"').replace(old, new), table, codes)
    text = str(info.value)
    assert text.startswith("s.toml: scenario 'tariff', [[scenario.final_demand]] 1: ")
    for fragment in fragments:
        assert fragment in text, text


def test_the_nested_country_and_groups_expand(tmp_path, table, codes):
    extra = '[groups]\nWEST = ["USA", "CN"]\n' + SHOCK.replace('"USA"', '"WEST"')
    resolved, change = resolve(tmp_path, extra.replace('"CHN"', '"CN"'), table, codes)
    (shock,) = resolved.demand
    assert shock.consumers == ("USA", "CN-A", "CN-B") and shock.origins == ("CN-A", "CN-B")
    assert shock.categories == tuple(CATEGORIES)
    assert change.columns.size == 6


def test_group_errors(codes):
    with pytest.raises(ConfigError, match=r"\[groups\] BRI: a member names 'XX'.*USA, JPN"):
        resolve_groups({"BRI": ("RUS",) * 0 + ("XX",)}, codes, source="s.toml")
    with pytest.raises(ConfigError, match=r"\[groups\] USA: the name is already a consumer code"):
        resolve_groups({"USA": ("JPN",)}, codes, source="s.toml")
    for name in ("foreign", "ALL"):
        with pytest.raises(ConfigError, match=rf"\[groups\] {name}: the name is reserved"):
            resolve_groups({name: ("JPN",)}, codes, source="s.toml")


def test_a_shock_that_matches_nothing(tmp_path, table, codes):
    extra = SHOCK.replace('"CHN"', '"JPN"').replace(
        "factor = 0.75", 'factor = 0.75\ncategory = "households"'
    )
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, extra, table, codes)
    assert "scenario 'tariff', [[scenario.final_demand]] 1: consumer(s) ['USA'] buy nothing" in str(
        info.value
    )
    emissions = '[[scenario]]\nname = "e"\n[[scenario.emissions]]\nregion = "CN"\n'
    emissions += 'sector = "power"\nfactor = 0.7\n'
    resolved, _ = resolve(tmp_path, emissions, table, codes)
    totals = np.array([[0.0, 5.0], [0.0, 1.0]])  # CN-A, CN-B: no power emissions
    with pytest.raises(
        ConfigError, match=r"scenario 'e', \[\[scenario.emissions\]\] 1: .*no 'power'"
    ):
        emission_factors(resolved, ["CN-A", "CN-B"], ["power", "cement"], totals, source="s.toml")
    totals[1, 0] = 2.0
    factors = emission_factors(resolved, ["CN-A", "CN-B"], ["power", "cement"], totals, source="s")
    np.testing.assert_array_equal(factors, [[0.7, 1.0], [0.7, 1.0]])
    with pytest.raises(ConfigError, match=r"\[\[scenario.emissions\]\] 1: sector names 'steel'"):
        resolve(tmp_path, emissions.replace('"power"', '"steel"'), table, codes)
