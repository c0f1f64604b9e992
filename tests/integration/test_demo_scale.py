"""Demo scale options end to end: 159 foreign regions (190 consumers) and ``demo --foreign``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.demo_tables import assert_nests_to_truth, geojson_codes

import pipeline
from pipeline.demo.mrio import make_demo_tables
from pipeline.mrio import attribute, nest, read_plain

CLI = str(Path(sys.executable).with_name("footprint-map"))


@pytest.fixture(scope="module")
def tables159():
    return make_demo_tables(foreign=159)


def test_159_regions_are_eora_sized_real_and_balanced(tables159):
    t, g = tables159.true_nested, tables159.global_mrio
    assert len(t.consumers) == 190 and len(g.regions) == 160
    foreign = g.regions[1:]
    assert len(set(foreign)) == 159 and foreign[-1] == "ROW"
    assert set(foreign[:-1]) <= set(geojson_codes())
    assert abs(t.x - t.Z.sum(1) - t.Y.sum(1)).max() / t.x.max() < 1e-12
    share = (
        attribute(g, regions="CHN")
        .sel(consumer=list(foreign))
        .sum(("region", "sector", "category"))
    )
    share = (share / share.sum()).to_series().sort_values(ascending=False)
    assert list(share.index[:3]) == ["USA", "HKG", "JPN"]
    assert 0.20 <= share["USA"] <= 0.25 and share["ROW"] < 0.01


def test_159_regions_nest_back_to_the_true_table(tables159):
    t = tables159
    nested, rep = nest(t.global_mrio, t.provincial, country="CHN", sector_concordance=t.concordance)
    assert nested.rows.equals(t.true_nested.rows)
    assert_nests_to_truth(nested, t.true_nested)
    assert rep.iterations == 0 and rep.max_row_imbalance < 1e-12


def test_demo_with_40_foreign_regions_runs_end_to_end(tmp_path):
    out = tmp_path / "demo40"
    result = subprocess.run(
        [CLI, "demo", "--foreign", "40", "--resolution", "50km", "--no-maps", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert read_plain(out / "inputs" / "mrio" / "global").regions[1:12] == (
        "USA", "HKG", "JPN", "KOR", "DEU", "GBR", "FRA", "IND", "RUS", "AUS", "BRA",
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    shares = summary["consumer_shares"]
    assert len(shares) == 40 and list(shares)[:3] == ["USA", "HKG", "JPN"]
    assert {"CAN", "ARG", "KAZ", "ROW"} <= set(shares)
    assert summary["conservation_max_rel_error"] < 1e-9
    ds = pipeline.open_results(out).ds
    assert ds.sizes["consumer"] == 31 + 40
    assert "in a 40-region world" in ds.attrs["title"]
