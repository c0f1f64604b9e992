"""Scenarios on a study unlike the demo: Japan/Korea on a 0.25 degree lat/lon grid, plain table.

A group of consumers (``WEST``) halves its households' demand for Japan's
products, and Korea's power sector (abroad: Korea is mapped but is no home
region) gets 30 % cleaner. The scenario's tables are checked against a dense
inverse of the plain table read back with pandas, and its cells against those
tables applied with numpy to the stored emissions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.geographic_study import build_study

from pipeline import open_results
from pipeline.workflow.config import load_config
from pipeline.workflow.run import run_study

WEST = ["USA", "DEU", "GBR", "FRA"]
EXTRA = """
[groups]
WEST = ["USA", "DEU", "GBR", "FRA"]

[[scenario]]
name = "west_half"
[[scenario.final_demand]]
consumer = "WEST"
products_of = "JPN"
category = "households"
factor = 0.5
[[scenario.emissions]]
region = "KOR"
sector = "power"
factor = 0.7
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenarios-latlon")
    out, _ = build_study(root)
    path = root / "study.toml"
    path.write_text(path.read_text() + EXTRA)
    lines: list[str] = []
    run_study(load_config(path), out, echo=lines.append, resume=True)
    return {"out": out, "root": root, "lines": lines}


def oracle_delta(root, ds) -> np.ndarray:
    """``sum_i w dX / x`` of the scenario's demand change, by dense inverse (no package code)."""
    read = {"header": [0, 1], "index_col": [0, 1]}
    z = pd.read_csv(root / "global" / "Z.csv", **read)
    y = pd.read_csv(root / "global" / "Y.csv", **read)
    x = z.to_numpy().sum(axis=1) + y.to_numpy().sum(axis=1)
    a = z.to_numpy() / np.where(x > 0, x, 1.0)[None, :]
    rows = z.index.get_level_values(0) == "JPN"
    cols = y.columns.get_level_values(0).isin(WEST) & (
        y.columns.get_level_values(1) == "households"
    )
    dy = np.zeros(y.shape)
    dy[np.ix_(rows, cols)] = -0.5 * y.to_numpy()[np.ix_(rows, cols)]
    dx = np.linalg.solve(np.eye(len(x)) - a, dy)
    shares = np.zeros((ds.sizes["region"], ds.sizes["mrio_sector"], ds.sizes["consumer"], 4))
    regions, sectors = list(ds["region"].values), list(ds["mrio_sector"].values)
    consumers, categories = list(ds["consumer"].values), list(ds["category"].values)
    for n, (r, i) in enumerate(z.index):
        if r in regions and i in sectors:
            for m, (c, k) in enumerate(y.columns):
                shares[
                    regions.index(r), sectors.index(i), consumers.index(c), categories.index(k)
                ] = dx[n, m] / x[n]
    return np.einsum("rsi,rick->rsck", ds["sector_weights"].values, shares)


def test_scenario_tables_match_a_dense_inverse(study):
    base = open_results(study["out"])
    res = open_results(study["out"], scenario="west_half")
    dims = ("region", "sector", "consumer", "category")
    m = base.ds["region_shares"].transpose(*dims).values
    phi = np.ones(m.shape[:2])
    phi[base.producers.index("KOR"), base.sectors.index("power")] = 0.7
    expected = (m + oracle_delta(study["root"], res.ds)) * phi[:, :, None, None]
    got = res.ds["region_shares"].transpose(*dims).values
    assert np.abs(got - expected).max() <= 1e-12
    delta = res.ds["delta_region_shares"].transpose(*dims).values
    assert np.abs(delta - (expected - m)).max() <= 1e-12
    assert np.abs(delta).max() > 1e-3


def test_group_delta_cells_and_conservation(study):
    base = open_results(study["out"])
    res = open_results(study["out"], scenario="west_half")
    assert res.groups == {"WEST": WEST} and res.summary()["conservation_max_rel_error"] <= 1e-6
    emissions = res.ds["emissions"].values
    index, producer = res.region_index, res.producer_of_code
    members = [res.consumers.index(c) for c in WEST]
    table = res.delta_shares[:, :, members].sum(axis=(2, 3))
    expected = np.zeros(index.shape)
    for code in np.flatnonzero(producer >= 0):
        cells = index == code
        expected[cells] = (emissions[:, cells] * table[producer[code]][:, None]).sum(axis=0)
    got = res.layer(consumer="WEST", delta=True).values
    scale = np.abs(base.layer(consumer="WEST").values).max()
    assert np.abs(got - expected).max() <= 1e-12 * scale
    assert got.min() < -1e-3 * scale
    # Korea is mapped but abroad: its cells carry no foreign-driven change
    korea = index == res.codes.index("KOR")
    assert np.all(res.ds["delta_foreign_footprint"].values[korea] == 0)
    # every cell's total change is its emissions times the delta tables' row sums
    rows = res.delta_shares.sum(axis=(2, 3))[res.producers.index("KOR")]
    change = (emissions[:, korea] * rows[:, None]).sum(axis=0)
    total = res.ds["footprint"].values.sum(0) - base.ds["footprint"].values.sum(0)
    assert np.abs(total[korea] - change).max() <= 1e-12 * scale
    without_shock = rows[res.sectors.index("cement")]  # the demand change alone
    power = rows[res.sectors.index("power")]
    # row sums are phi (1 + d) - 1: the 30 % cut plus 0.7 x the (small, negative) demand change
    assert -0.01 < without_shock < 0 and -0.3 - 0.01 < power < -0.3
    delta = res.summary()["delta"]
    assert delta["by_group"]["WEST"]["change_t"] < 0
    assert set(delta["by_province"]) == {"JPN"}  # the home regions only
