"""The synthetic demo MRIO."""

import json

import numpy as np
import pytest
from helpers import REPO_ROOT

from pipeline.demo.mrio import (
    FOREIGN,
    PROVINCES,
    SECTORS,
    make_demo_tables,
    province_sector_emissions,
    write_demo_tables,
)
from pipeline.mrio import attribute, read_plain, read_subnational

ROOT = REPO_ROOT


def test_provinces_match_geojson():
    gj = json.loads((ROOT / "data" / "china_provinces.geojson").read_text())
    codes = [f["properties"]["code"] for f in gj["features"]]
    assert PROVINCES == tuple(c for c in codes if c not in ("CN-HK", "CN-MO", "CN-TW"))


def test_deterministic_and_foreign_12_is_the_default(demo_tables):
    again = make_demo_tables(seed=2012, foreign=12)
    for name in ("true_nested", "global_mrio"):
        for k in ("Z", "Y", "x", "F", "F_Y"):
            a, b = getattr(getattr(again, name), k), getattr(getattr(demo_tables, name), k)
            assert a.tobytes() == b.tobytes(), (name, k)  # bit for bit
    np.testing.assert_array_equal(again.provincial.imports, demo_tables.provincial.imports)


def test_balanced_and_structure(demo_tables):
    t = demo_tables.true_nested
    rel = np.abs(t.x - t.Z.sum(1) - t.Y.sum(1)) / t.x
    assert rel.max() < 1e-12
    cs = t.A.sum(axis=0)
    assert 0.3 <= cs.min() and cs.max() <= 0.8
    assert (t.Y < 0).any() and (t.x > 0).all()
    g = demo_tables.global_mrio
    assert g.regions == ("CHN", *FOREIGN) and g.sectors == SECTORS
    assert t.F[: len(PROVINCES) * len(SECTORS)].sum() == pytest.approx(9.5e9, rel=1e-12)
    sub = demo_tables.provincial
    assert 0.15 <= sub.exports.sum() / sub.x.sum() <= 0.20


def test_intensity_order(demo_tables):
    t = demo_tables.true_nested
    f = (t.F / t.x).reshape(-1, len(SECTORS))[: len(PROVINCES)]
    i = {s: k for k, s in enumerate(SECTORS)}
    order = [
        "electricity_heat",
        "metal_smelting",
        "nonmetallic_minerals",
        "petroleum_coking",
        "chemicals",
        "transport",
    ]
    for hi, lo in zip(order, order[1:], strict=False):
        assert (f[:, i[hi]] > f[:, i[lo]]).all(), (hi, lo)
    assert (f[:, i["electricity_heat"]] > 2 * f[:, i["metal_smelting"]]).all()
    rest = [i[s] for s in SECTORS if s not in order]
    assert (f[:, [i["transport"]]] > f[:, rest]).all()
    per_prov = f[:, i["electricity_heat"]]
    north = [PROVINCES.index(p) for p in ("CN-HE", "CN-SX", "CN-NM", "CN-SD")]
    assert per_prov[north].min() > np.median(per_prov)


def test_export_driven_co2_by_consumer_and_sector(demo_tables):
    da = attribute(demo_tables.global_mrio, regions="CHN").sel(consumer=list(FOREIGN))
    by_consumer = da.sum(("region", "sector", "category")).to_series()
    share = by_consumer / by_consumer.sum()
    assert list(share.sort_values(ascending=False).index[:3]) == ["USA", "HKG", "JPN"]
    assert 0.20 <= share["USA"] <= 0.25 and 0.08 <= share["HKG"] <= 0.12
    by_sector = da.sum(("region", "consumer", "category")).to_series()
    sec = by_sector / by_sector.sum()
    assert sec.idxmax() == "electricity_heat"
    assert 0.40 <= sec["electricity_heat"] <= 0.45 and 0.13 <= sec["metal_smelting"] <= 0.15


def test_province_sector_emissions(demo_tables):
    df = province_sector_emissions(demo_tables)
    assert list(df.index) == list(PROVINCES) and list(df.columns) == list(SECTORS)
    assert df.to_numpy().sum() == pytest.approx(demo_tables.provincial.F.sum(), rel=1e-12)
    g = demo_tables.global_mrio
    np.testing.assert_allclose(df.sum(axis=0).to_numpy(), g.F[g.region_rows("CHN")], rtol=1e-12)


def test_write_demo_tables(tmp_path, demo_tables):
    paths = write_demo_tables(demo_tables, tmp_path)
    g = read_plain(paths["global"])
    np.testing.assert_allclose(g.Z, demo_tables.global_mrio.Z, rtol=1e-15)
    sub = read_subnational(paths["provincial"])
    np.testing.assert_allclose(sub.imports, demo_tables.provincial.imports, rtol=1e-15)
    assert (
        paths["sector_concordance"].read_text().splitlines()[0] == "sub_sector,global_sector,weight"
    )
