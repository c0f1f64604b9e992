"""Monte Carlo runs of the coarse demo (50 km, nested) and of a plain EPSG:4326 study.

- ``mrio_cv = inventory_cv = 0``: every quantile and mean equals the deterministic
  result (per cell, per foreign consumer, the attribution) to 1e-12 relative;
  with zero CVs every realization's land shares equal the deterministic ones exactly,
  ``hotspot_frequency`` counts every realization on the deterministic hotspot cells
  and none elsewhere, and the robustness is 1.0;
- the same seed gives the same quantiles with other spatial chunks;
- 20 realizations with the demo's CVs: p05 <= p50 <= p95 in every cell, and the
  mean of each consumer's total is within 3 standard errors of the deterministic value;
- the plain Japan/Korea study on a lat/lon grid (tests/helpers/geographic_study.py):
  with zero CVs as above; with CVs the robustness equals the in-memory count of the
  stored ``hotspot_frequency`` on the deterministic hotspot cells.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.demo_inputs import build_coarse_demo, demo_config

from pipeline import open_results
from pipeline.workflow.config import load_config
from pipeline.workflow.run import run_study

QUANTILE_VARS = ("foreign_footprint_quantiles", "footprint_quantiles", "attribution_quantiles")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return build_coarse_demo(tmp_path_factory.mktemp("unc-demo"))


def _run(inputs, out, **overrides):
    config = demo_config(inputs, output__maps=False, **overrides)
    run_study(config, out, connect=None, echo=lambda *_: None)
    return open_results(out)


def _rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def test_zero_cv_quantiles_equal_the_deterministic_result(inputs, tmp_path):
    r = _run(
        inputs,
        tmp_path / "out",
        uncertainty__realizations=3,
        uncertainty__mrio_cv=0,
        uncertainty__inventory_cv=0,
    )
    ds = r.ds
    det = ds["foreign_footprint"].values
    assert ds["foreign_footprint_quantiles"].shape[0] == 3 and det.max() > 0
    for level in ds["quantile"].values:
        assert _rel(r.layer(quantile=float(level)).values, det) <= 1e-12
        assert _rel(ds["attribution_quantiles"].sel(quantile=level), ds["attribution"]) <= 1e-12
    assert _rel(ds["foreign_footprint_mean"], det) <= 1e-12
    for consumer in ds["foreign_consumer"].values:
        layer = ds["footprint"].sel(consumer=consumer).values
        for level in (0.05, 0.5, 0.95):
            assert _rel(r.layer(str(consumer), quantile=level).values, layer) <= 1e-12
        assert _rel(ds["footprint_mean"].sel(foreign_consumer=consumer), layer) <= 1e-12
    block = json.loads((tmp_path / "out" / "summary.json").read_text())["uncertainty"]
    assert block["realizations"] == 3 and block["redraws"] == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    for code, share in summary["consumer_shares"].items():
        assert block["consumer_shares"][code]["0.95"] == pytest.approx(share, rel=1e-12)
    _assert_hotspots_as_deterministic(r, summary, 3)


def _assert_hotspots_as_deterministic(r, summary, n):
    """Zero CVs: the realizations' hotspot statistics are the deterministic ones exactly."""
    block = summary["uncertainty"]
    for key in ("land_share_for_75pct", "land_share_for_90pct"):
        assert summary[key] > 0
        assert [block[key][q] for q in ("0.05", "0.5", "0.95")] == [summary[key]] * 3, key
        assert block[key]["std"] == 0.0
    robust = block["hotspot_robustness"]
    hot = r.hotspots(share=0.75).mask.values
    assert robust["hotspot_cells"] == hot.sum() > 0
    assert robust["robust_cells"] == hot.sum() and robust["robust_share"] == 1.0
    counts = r.ds["hotspot_frequency"].values
    assert counts.dtype == np.uint16 and r.ds["hotspot_frequency"].attrs["realizations"] == n
    np.testing.assert_array_equal(counts, n * hot)


def test_same_seed_same_quantiles_with_other_chunks(inputs, tmp_path):
    options = dict(uncertainty__realizations=4, uncertainty__seed=5, uncertainty__mrio_cv=0.05)
    whole = _run(inputs, tmp_path / "a", **options).ds
    split = _run(inputs, tmp_path / "b", inventory__chunks=32, **options).ds
    assert split["foreign_footprint_quantiles"].data.numblocks[1:] == (3, 4)
    for name in QUANTILE_VARS:
        assert _rel(split[name].values, whole[name].values) <= 1e-12, name
    spread = whole["foreign_footprint_quantiles"].values
    assert (spread[2] - spread[0]).max() > 0  # the realizations differ


def test_twenty_realizations_order_and_unbiased_totals(inputs, tmp_path):
    r = _run(inputs, tmp_path / "out", uncertainty__realizations=20)
    ds = r.ds
    cells = ds["foreign_footprint_quantiles"].values
    per_consumer = ds["footprint_quantiles"].values
    for q in (cells, per_consumer):
        assert (q[0] <= q[1]).all() and (q[1] <= q[2]).all()
    assert (cells[2] > cells[0]).sum() > 0.5 * (cells[1] > 0).sum()
    block = json.loads((tmp_path / "out" / "summary.json").read_text())["uncertainty"]
    assert block["realizations"] == 20
    deterministic = ds["attribution"].sum(("region", "sector", "category"))
    for consumer, stats in block["consumer_totals_t"].items():
        value = float(deterministic.sel(consumer=consumer))
        standard_error = stats["std"] / np.sqrt(20)
        assert abs(stats["mean"] - value) <= 3 * standard_error, (consumer, stats, value)
        assert stats["std"] > 0
    for consumer in ds["foreign_consumer"].values[:3]:  # the grid pass's mean = the tables'
        grid = float(ds["footprint_mean"].sel(foreign_consumer=consumer).sum())
        assert grid == pytest.approx(block["consumer_totals_t"][str(consumer)]["mean"], rel=1e-9)


def test_plain_latlon_study(tmp_path):
    from helpers.geographic_study import build_study

    out, _ = build_study(tmp_path / "jk")
    config = load_config(tmp_path / "jk" / "study.toml").with_overrides(
        uncertainty={"realizations": 6, "mrio_cv": 0.05, "inventory_cv": 0.1},
        output={"maps": False},
    )
    run_study(config, tmp_path / "mc", connect=None, echo=lambda *_: None)
    r = open_results(tmp_path / "mc")
    q = r.ds["foreign_footprint_quantiles"].values
    assert (q[0] <= q[1]).all() and (q[1] <= q[2]).all() and (q[2] > q[0]).any()
    det = open_results(out).ds["foreign_footprint"].values
    assert np.array_equal(r.ds["foreign_footprint"].values, det)  # deterministic cube unchanged
    assert r.layer("USA", quantile=0.95).rio.crs.to_epsg() == 4326
    summary = json.loads((tmp_path / "mc" / "summary.json").read_text())
    block = summary["uncertainty"]
    shares = block["consumer_shares"]
    assert set(shares) == set(map(str, r.ds["foreign_consumer"].values))
    assert all(s["0.05"] <= s["0.5"] <= s["0.95"] for s in shares.values())
    land = block["land_share_for_75pct"]
    assert 0 < land["0.05"] <= land["0.5"] <= land["0.95"] < 1
    counts = r.ds["hotspot_frequency"].values
    hot = r.hotspots(share=0.75).mask.values
    assert counts.max() <= 6 and counts[~r.lazy_land.compute()].max() == 0
    robust = block["hotspot_robustness"]
    assert robust["min_realizations"] == 6  # ceil(0.9 * 6)
    assert robust["hotspot_cells"] == hot.sum() > 0
    assert robust["robust_cells"] == ((counts >= 6) & hot).sum()
    assert robust["robust_share"] == robust["robust_cells"] / hot.sum()
    assert 0 < robust["robust_share"] < 1  # some hotspot cells are robust, some are not


def test_plain_latlon_study_zero_cv_hotspots(tmp_path):
    from helpers.geographic_study import build_study

    build_study(tmp_path / "jk")
    config = load_config(tmp_path / "jk" / "study.toml").with_overrides(
        uncertainty={"realizations": 2, "mrio_cv": 0, "inventory_cv": 0},
        output={"maps": False},
    )
    run_study(config, tmp_path / "mc", connect=None, echo=lambda *_: None)
    summary = json.loads((tmp_path / "mc" / "summary.json").read_text())
    _assert_hotspots_as_deterministic(open_results(tmp_path / "mc"), summary, 2)


def test_resume_keeps_finished_realizations(inputs, tmp_path):
    """An ensemble cut short (3 of 5 kept) resumes with the 2 missing; same numbers as 5 at once."""
    options = dict(uncertainty__seed=7, uncertainty__mrio_cv=0.05, output__maps=False)
    out = tmp_path / "resumed"
    run_study(
        demo_config(inputs, uncertainty__realizations=3, **options), out, echo=lambda *_: None
    )
    assert sorted(p.name for p in (out / "work" / "realizations").glob("*/*.npz")) == [
        "0.npz",
        "1.npz",
        "2.npz",
    ]
    said = []
    config = demo_config(inputs, uncertainty__realizations=5, **options)
    run_study(config, out, echo=said.append, resume=True)
    assert "  resume: reusing 3 of 5 finished realizations" in said
    drawn = [line for line in said if line.startswith("  realization ")]
    assert drawn == ["  realization 4/5 done", "  realization 5/5 done"]
    fresh = tmp_path / "fresh"
    run_study(config, fresh, echo=lambda *_: None)
    resumed, whole = open_results(out).ds, open_results(fresh).ds
    for name in (*QUANTILE_VARS, "hotspot_frequency"):
        np.testing.assert_array_equal(resumed[name].values, whole[name].values, err_msg=name)
    # the region totals of a resumed ingest may differ in the last bits (summation order)
    found, expected = (
        _flat(json.loads((d / "summary.json").read_text())["uncertainty"]) for d in (out, fresh)
    )
    assert found == pytest.approx(expected, rel=1e-12, abs=1e-300)
    said.clear()
    other = demo_config(inputs, uncertainty__realizations=5, **{**options, "uncertainty__seed": 8})
    run_study(other, out, echo=said.append, resume=True)
    assert "  resume: reusing 0 of 5 finished realizations" in said  # another seed: all new


def _flat(block, prefix=""):
    """A nested summary block as ``{"a/b/c": number}``."""
    if isinstance(block, dict):
        return {
            k: v for key, value in block.items() for k, v in _flat(value, f"{prefix}{key}/").items()
        }
    if isinstance(block, list):
        return {f"{prefix}{n}": float(v) for n, v in enumerate(block)}
    return {prefix: float(block)}
