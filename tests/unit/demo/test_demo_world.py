"""``--foreign N``: the demo's rest of the world split into N real countries and ROW."""

import numpy as np
import pytest
from helpers.demo_tables import assert_nests_to_truth, geojson_codes

from pipeline.demo import mrio as demo_mrio
from pipeline.demo.parameters import FOREIGN, FOREIGN_CO2, FOREIGN_FD, TARGET_CONSUMER
from pipeline.demo.world import (
    MAX_FOREIGN,
    UNINHABITED,
    foreign_regions,
    parse_foreign,
    world_candidates,
)
from pipeline.errors import ConfigError
from pipeline.mrio import attribute, nest


@pytest.fixture(scope="module")
def tables40():
    return demo_mrio.make_demo_tables(foreign=40)


def test_parse_foreign_accepts_the_range_and_names_the_flag_otherwise():
    assert parse_foreign("12") == 12 and parse_foreign(" 159 ") == 159 and parse_foreign(189) == 189
    for bad in ("11", "190", "0", "-3", "abc", "12.5", ""):
        with pytest.raises(ConfigError, match=r"^--foreign .*from 12 to 189") as info:
            parse_foreign(bad)
        assert "\n" not in str(info.value)


def test_candidates_are_real_distinct_iso3_codes_by_area():
    codes, weights = world_candidates()
    in_file = set(geojson_codes())
    assert len(codes) == len(set(codes)) == 219  # 237 ISO3 codes - CHN - 11 named - 6 empty
    assert set(codes) <= in_file
    assert not set(codes) & {"CHN", *FOREIGN, *UNINHABITED, "-99", None}
    assert codes[:5] == ("CAN", "ARG", "KAZ", "COD", "DZA")  # after RUS, USA, BRA, AUS, IND
    assert codes[-1] == "GIB" and np.all(np.diff(weights) <= 0)
    assert weights[0] == pytest.approx(np.sqrt(9.796e6), rel=1e-3)  # Canada, km²


def test_twelve_is_todays_foreign_regions():
    regions = foreign_regions(12)
    assert regions.codes == FOREIGN
    assert regions.fd is FOREIGN_FD and regions.target is TARGET_CONSUMER


@pytest.mark.parametrize("n", [13, 40, MAX_FOREIGN])
def test_split_keeps_named_countries_and_row_totals(n):
    regions = foreign_regions(n)
    assert len(regions.codes) == len(set(regions.codes)) == n
    assert regions.codes[:11] == FOREIGN[:11] and regions.codes[-1] == "ROW"
    assert regions.codes[11:-1] == world_candidates()[0][: n - 12]
    np.testing.assert_array_equal(regions.fd[:11], FOREIGN_FD[:11])
    for got, row in ((regions.fd, FOREIGN_FD), (regions.co2, FOREIGN_CO2)):
        assert got[11:].sum() == pytest.approx(row[-1], rel=1e-12)
    assert regions.target[11:].sum() == pytest.approx(TARGET_CONSUMER[-1], rel=1e-12)
    assert 0.6 <= regions.home[11:].min() and regions.home[11:].max() <= 0.97
    assert np.all(regions.chi0[11:] == regions.chi0[-1])


def test_canada_is_the_first_split_with_its_area_share():
    regions = foreign_regions(13)
    _, weights = world_candidates()
    assert regions.codes[11] == "CAN"
    assert regions.fd[11] == pytest.approx(3.0e7 * weights[0] / weights.sum(), rel=1e-12)
    assert regions.fd[12] == pytest.approx(3.0e7 * (1 - weights[0] / weights.sum()), rel=1e-12)


def test_direct_export_driven_equals_the_attribution(demo_tables):
    true = demo_tables.true_nested
    via_attribute = demo_mrio._export_driven(true)
    direct = demo_mrio._export_driven_direct(true)
    for a, b in zip(via_attribute, direct, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12)
    assert direct[0].shape == (12,) and direct[1].shape == (14,)


def test_forty_regions_balanced_real_codes_and_headline(tables40):
    t, g = tables40.true_nested, tables40.global_mrio
    assert len(t.consumers) == 31 + 40 and g.regions[0] == "CHN"
    foreign = g.regions[1:]
    assert len(set(foreign)) == 40 and foreign[-1] == "ROW"
    assert set(foreign[:-1]) <= set(geojson_codes())
    assert np.abs(t.x - t.Z.sum(1) - t.Y.sum(1)).max() / t.x.max() < 1e-12
    assert t.F[: 31 * 14].sum() == pytest.approx(9.5e9, rel=1e-12)
    da = attribute(g, regions="CHN").sel(consumer=list(foreign))
    share = da.sum(("region", "sector", "category")).to_series()
    share /= share.sum()
    assert list(share.sort_values(ascending=False).index[:3]) == ["USA", "HKG", "JPN"]
    assert 0.20 <= share["USA"] <= 0.25 and share.drop(["USA", "HKG", "JPN"]).max() < 0.09
    assert share[list(foreign[11:])].sum() == pytest.approx(0.058, abs=0.006)  # ROW's 0.055


def test_forty_regions_nest_back_to_the_true_table(tables40):
    t = tables40
    nested, rep = nest(t.global_mrio, t.provincial, country="CHN", sector_concordance=t.concordance)
    assert nested.rows.equals(t.true_nested.rows)
    assert_nests_to_truth(nested, t.true_nested)
    assert rep.iterations == 0 and rep.max_rel_adjustment == 0.0
    assert rep.export_scaling_min == pytest.approx(1.0, rel=1e-12)
    assert rep.export_scaling_max == pytest.approx(1.0, rel=1e-12)
