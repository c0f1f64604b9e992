"""Scenarios on the coarse demo: zero deltas, Leontief linearity, diversion, emission shocks.

One run writes the baseline and six scenarios (the demo's two and four below).
Every reference is computed here from the stores' own arrays or with a dense
inverse of the nested table (``numpy.linalg.inv``), never with the package's
scenario code.
"""

from __future__ import annotations

import json
import os

import dask
import numpy as np
import pytest
import xarray as xr
from helpers.demo_inputs import build_coarse_demo

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.errors import OutputError
from pipeline.resources import config_file
from pipeline.storage.versions import resolve_store
from pipeline.workflow import stages
from pipeline.workflow.config import load_config
from pipeline.workflow.run import run_study
from pipeline.workflow.scenario_run import prepare

EXTRA = """
[[scenario]]
name = "ones"
[[scenario.final_demand]]
consumer = "USA"
products_of = "CHN"
factor = 1.0
divert_to = ["JPN", "KOR", "IND"]
[[scenario.emissions]]
region = "CN-HE"
sector = "power"
factor = 1

[[scenario]]
name = "usa_0"
[[scenario.final_demand]]
consumer = "USA"
products_of = "CHN"
factor = 0

[[scenario]]
name = "usa_half"
[[scenario.final_demand]]
consumer = "USA"
products_of = "CHN"
factor = 0.5

[[scenario]]
name = "clean_hebei_power"
[[scenario.emissions]]
region = "CN-HE"
sector = "power"
factor = 0.7
"""
NAMES = ["us_tariff_25", "bri_shift", "ones", "usa_0", "usa_half", "clean_hebei_power"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenarios-demo")
    inputs = build_coarse_demo(root)
    path = root / "study.toml"
    path.write_text(config_file("demo.toml").read_text() + EXTRA)
    config = load_config(path, inputs=inputs).with_overrides(output={"maps": False})
    lines: list[str] = []
    run_study(config, root / "out", echo=lines.append)
    return {"out": root / "out", "config": config, "lines": lines, "root": root}


@pytest.fixture(scope="module")
def base(study):
    return open_results(study["out"])


def scenario(study, name):
    return open_results(study["out"], scenario=name)


def layers(results, name="footprint") -> np.ndarray:
    return results.ds[name].values


def test_every_scenario_is_written_complete_and_conserved(study, base):
    for name in NAMES:
        res = scenario(study, name)
        folder = study["out"] / "scenarios" / name
        assert res.scenario == name and (folder / "summary.json").is_file()
        attrs = xr.open_zarr(resolve_store(folder / "footprint.zarr")).attrs
        assert attrs["footprint_map_complete"] == 1  # the CF store's integer mark
        assert attrs["conservation_max_rel_error"] <= 1e-6
        # independent of the run's check: cells against the scenario's inventory
        tables = res.ds["region_shares"].sum(("consumer", "category"))
        per_cell = np.zeros(res.ds["region_index"].shape)
        index = res.ds["region_index"].values
        producer = res.producer_of_code
        emissions = res.ds["emissions"].values
        for code in np.flatnonzero(producer >= 0):
            cells = index == code
            per_cell[cells] = (emissions[:, cells] * tables.values[producer[code]][:, None]).sum(0)
        footprint = layers(res)
        assert np.abs(footprint.sum(0) - per_cell).max() <= 1e-12 * per_cell.max()
        totals = res.ds["attribution"].sum(("region", "sector", "category")).values
        np.testing.assert_allclose(footprint.sum(axis=(1, 2)), totals, rtol=1e-10, atol=1e-6)


def test_factor_one_everywhere_gives_zero_deltas(study, base):
    ones = scenario(study, "ones")
    scale = np.abs(layers(base)).max()
    assert np.abs(layers(ones, "delta_footprint")).max() <= 1e-12 * scale
    assert np.abs(ones.ds["delta_foreign_footprint"].values).max() <= 1e-12 * scale
    assert np.abs(layers(ones) - layers(base)).max() <= 1e-12 * scale
    delta = ones.summary()["delta"]
    assert delta["foreign_total_t"]["change_t"] == 0.0 and delta["total_t"]["change_t"] == 0.0


def test_leontief_linearity_cell_by_cell(study, base):
    """USA's demand for China's products at factors 0, 0.5 and 1 (the baseline)."""
    zero, half = scenario(study, "usa_0"), scenario(study, "usa_half")
    one = layers(base)
    scale = np.abs(one).max()
    usa = base.consumers.index("USA")
    mean = (layers(zero)[usa] + one[usa]) / 2
    assert np.abs(layers(half)[usa] - mean).max() <= 1e-9 * scale
    assert np.abs(layers(half)[usa] - one[usa]).max() > 1e-3 * scale  # the shock does something
    others = [n for n in range(len(base.consumers)) if n != usa]
    for res in (zero, half):
        assert np.abs(layers(res)[others] - one[others]).max() <= 1e-9 * scale
    np.testing.assert_allclose(
        half.ds["delta_foreign_footprint"].values,
        zero.ds["delta_foreign_footprint"].values / 2,
        rtol=0,
        atol=1e-9 * scale,
    )


def test_delta_tables_match_a_dense_inverse(study):
    """``T' - M = sum_i w dX / x`` with ``dX = inv(I - A) dY``, for USA x 0.5."""
    config = study["config"]
    loaded = stages.load_mrio(config.mrio, config.study, config.paths)
    table = loaded.table
    x = table.x
    a = np.asarray(table.Z) / np.where(x > 0, x, 1.0)[None, :]
    inverse = np.linalg.inv(np.eye(table.n) - a)
    rows = np.asarray(table.rows.get_level_values(0).isin(loaded.domestic))
    cols = np.asarray(table.fd_columns.get_level_values(0) == "USA")
    dy = np.zeros_like(table.Y)
    dy[np.ix_(rows, cols)] = -0.5 * table.Y[np.ix_(rows, cols)]
    dx = inverse @ dy
    half = scenario(study, "usa_half").ds
    regions, sectors = list(half["region"].values), list(half["mrio_sector"].values)
    ds = np.zeros((len(regions), len(sectors), half.sizes["consumer"], half.sizes["category"]))
    consumers, categories = list(half["consumer"].values), list(half["category"].values)
    for n, (r, i) in enumerate(table.rows):
        if r in regions and i in sectors and x[n] > 0:
            for m, (c, k) in enumerate(table.fd_columns):
                ds[regions.index(r), sectors.index(i), consumers.index(c), categories.index(k)] = (
                    dx[n, m] / x[n]
                )
    expected = np.einsum("rsi,rick->rsck", half["sector_weights"].values, ds)
    got = half["delta_region_shares"].transpose("region", "sector", "consumer", "category")
    assert np.abs(got.values - expected).max() <= 1e-12
    assert np.abs(expected).max() > 1e-3


def test_diversion_keeps_each_consumers_total_final_demand(study):
    config = study["config"]
    loaded = stages.load_mrio(config.mrio, config.study, config.paths)
    sectors = list(config.inventory.files)
    plan = prepare(config, loaded, sectors)
    change = plan.changes["us_tariff_25"]
    table = loaded.table
    usa = np.flatnonzero(table.fd_columns.get_level_values(0) == "USA")
    assert sorted(change.columns) == sorted(usa)
    totals = np.asarray(table.Y)[:, change.columns].sum(axis=0)
    assert np.abs(change.delta.sum(axis=0)).max() <= 1e-12 * np.abs(totals).max()
    region = table.rows.get_level_values(0)
    china = np.asarray(region.isin(loaded.domestic))
    takers = np.asarray(region.isin(["JPN", "KOR", "IND"]))
    y = np.asarray(table.Y)[:, change.columns]
    np.testing.assert_allclose(change.delta[china], -0.25 * y[china], rtol=1e-15, atol=0)
    assert np.all(change.delta[~(china | takers)] == 0)
    product = np.asarray(table.rows.get_level_values(1))
    for sector in dict.fromkeys(product):
        mine = product == sector
        removed = -change.delta[china & mine].sum(axis=0)
        gained = change.delta[takers & mine]
        np.testing.assert_allclose(gained.sum(axis=0), removed, rtol=1e-12, atol=1e-9)
        # in proportion to what each column buys from each taker (positive purchases); a
        # column buying none of it (here inventory change) uses all of USA's columns
        bought = np.maximum(y[takers & mine], 0)
        buys = bought.sum(axis=0) > 0
        weights = np.where(buys[None, :], bought, bought.sum(axis=1, keepdims=True))
        share = weights / weights.sum(axis=0, keepdims=True)
        np.testing.assert_allclose(gained, share * removed, rtol=1e-12, atol=1e-9)


def test_emission_shock_scales_exactly_those_cells(study, base):
    clean = scenario(study, "clean_hebei_power")
    hebei = base.codes.index("CN-HE")
    cells = base.region_index == hebei
    power = base.ds["emissions"].sel(sector="power").values
    before, after = layers(base).sum(0), layers(clean).sum(0)
    scale = np.abs(before).max()
    assert np.abs(after - before - np.where(cells, -0.3 * power, 0.0)).max() <= 1e-12 * scale
    assert np.all(after[~cells] == before[~cells])
    m = base.ds["region_shares"].sel(region="CN-HE", sector="power").sum("category").values
    delta = layers(clean, "delta_footprint")
    expected = -0.3 * power[None, :, :] * m[:, None, None] * cells[None]
    assert np.abs(delta - expected).max() <= 1e-12 * scale
    assert power[cells].sum() > 0


def test_summary_delta_block_adds_up(study, base):
    tariff = scenario(study, "us_tariff_25")
    delta = tariff.summary()["delta"]
    foreign = delta["foreign_total_t"]
    stored = float(tariff.ds["delta_foreign_footprint"].sum())
    assert foreign["change_t"] == pytest.approx(stored, rel=1e-9)
    assert foreign["change_t"] < 0
    assert foreign["change_pct"] == pytest.approx(100 * foreign["change_t"] / foreign["baseline_t"])
    usa = delta["by_consumer"]["USA"]
    assert usa["change_t"] == pytest.approx(foreign["change_t"], rel=1e-9)
    assert list(delta["by_consumer"])[0] == "USA"
    assert sum(v["change_t"] for v in delta["by_province"].values()) == pytest.approx(
        delta["total_t"]["change_t"], rel=1e-9
    )
    land = delta["land_share_for_75pct"]
    assert land["change"] == land["scenario"] - land["baseline"]
    assert land["baseline"] == base.summary()["land_share_for_75pct"]
    bri = scenario(study, "bri_shift").summary()["delta"]["by_group"]["BRI"]
    assert bri["change_t"] > 0


def test_groups_in_the_results_api_and_summary(study, base):
    bri = base.layer(consumer="BRI").values
    members = base.layer(consumer="RUS").values + base.layer(consumer="ROW").values
    assert np.abs(bri - members).max() <= 1e-9 * np.abs(bri).max()
    shares = base.summary()["consumer_shares"]
    assert base.summary()["group_shares"]["BRI"] == pytest.approx(shares["RUS"] + shares["ROW"])
    res = scenario(study, "bri_shift")
    delta = res.layer(consumer="BRI", delta=True).values
    parts = res.layer(consumer="RUS", delta=True).values + res.layer(consumer="ROW", delta=True)
    assert np.abs(delta - parts.values).max() <= 1e-9 * np.abs(delta).max()
    households = res.layer(consumer="BRI", category="households", delta=True).sum().values
    assert 0 < households < delta.sum()


def test_scenario_alone_against_the_baseline_and_its_refusals(study, tmp_path):
    out = study["out"]
    config = study["config"]
    before = os.path.realpath(out / "scenarios" / "us_tariff_25" / "footprint.zarr")
    with_baseline = json.loads((out / "scenarios" / "usa_half" / "summary.json").read_text())
    result = run_study(config, out, echo=lambda *_: None, scenario="usa_half")
    assert result["delta"]["by_consumer"]["USA"]["change_t"] < 0
    # alone, on the inventory totals kept with the baseline store: the same numbers
    for key in ("foreign_total_t", "land_share_for_75pct", "conservation_max_rel_error"):
        assert result[key] == pytest.approx(with_baseline[key], rel=1e-12, abs=1e-15)
    usa = with_baseline["delta"]["by_consumer"]["USA"]["change_t"]
    assert result["delta"]["by_consumer"]["USA"]["change_t"] == pytest.approx(usa, rel=1e-12)
    alone = open_results(out, scenario="usa_half").ds
    by_sector, total = dask.compute(
        alone["footprint_by_sector"].sum("sector"), alone["foreign_footprint"]
    )
    assert np.abs(by_sector - total).max() <= 1e-12 * float(total.max())
    after = os.path.realpath(out / "scenarios" / "us_tariff_25" / "footprint.zarr")
    assert after != before  # a new version, with the other scenarios carried over by hard links
    linked = "emissions/zarr.json"
    inode = [os.stat(os.path.join(store, linked)).st_ino for store in (before, after)]
    assert inode[0] == inode[1]
    with pytest.raises(OutputError, match="no complete baseline result"):
        run_study(config, tmp_path / "empty", echo=lambda *_: None, scenario="usa_half")
    other = config.with_overrides(output={"hotspot_share": 0.8})
    with pytest.raises(OutputError, match="other inputs, settings or package version"):
        run_study(other, out, echo=lambda *_: None, scenario="usa_half")


def test_cli_run_scenario_errors_are_one_line(study, capsys):
    path = study["root"] / "study.toml"
    code = main(["run", str(path), "--inputs", str(study["root"] / "inputs"),
                 "--out", str(study["out"]), "--scenario", "nope"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert "--scenario 'nope'" in err and "us_tariff_25" in err


def test_resume_skips_complete_scenarios(study):
    lines: list[str] = []
    config = study["config"]
    run_study(config, study["out"], echo=lines.append, resume=True)
    reused = [line for line in lines if "reusing scenario" in line]
    assert len(reused) == len(NAMES)
    summary = json.loads((study["out"] / "scenarios" / "ones" / "summary.json").read_text())
    assert summary["delta"]["foreign_total_t"]["change_t"] == 0.0
