"""Nesting against a ground truth: a fully disaggregated table, aggregated and nested back.

The study differs from the demo on purpose (see :mod:`helpers.nesting_truth`): country
``XLN`` between foreign regions, 5 provinces, 4 sectors, negative stocks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from helpers.nesting_truth import (
    COUNTRY,
    NESTED_ORDER,
    PROV,
    G,
    P,
    Truth,
    build_truth,
    column_sums,
    errors,
    row_conservation,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import MRIOError
from pipeline.mrio import SubnationalTable, nest


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("seed", [3, 11])
def test_exact_under_import_proportionality(seed):
    t = build_truth(seed)
    nested, rep = nest(t.global_mrio, t.sub, country=COUNTRY)
    assert nested.regions == NESTED_ORDER
    err = errors(nested, t.true)
    assert max(err.values()) <= 1e-6, err
    # the tables themselves agree, cell by cell
    np.testing.assert_allclose(nested.Z, t.true.Z, rtol=1e-9, atol=1e-9 * t.true.x.max())
    np.testing.assert_allclose(nested.Y, t.true.Y, rtol=1e-9, atol=1e-9 * t.true.x.max())
    assert rep.iterations == 0 and rep.step("imports by user").capped == 0
    assert rep.step("imports by user").max_rel_adjustment < 1e-9
    assert row_conservation(nested) <= 1e-9


def test_violated_proportionality_is_detected():
    """The measure can fail: with province-specific import ratios nesting is not exact."""
    t = build_truth(3, import_spread=0.4)
    nested, rep = nest(t.global_mrio, t.sub, country=COUNTRY)
    err = errors(nested, t.true)
    assert err["province x consumer"] > 1e-3
    assert err["consumer region"] > 1e-5
    # but it is still a valid, conserving table that meets the province import totals
    assert column_sums(nested).max() < 1.0 and row_conservation(nested) <= 1e-9
    assert rep.step("imports by user").row_error <= 1e-8


SMALL = {("XL-E", "steel"): 0.03, ("XL-S", "grid"): 0.003, ("XL-W", "ore"): 0.0}


def _size_shares(t: Truth) -> dict:
    xs = pd.Series(t.sub.x, index=t.sub.rows)
    nat = xs.groupby(level="sector").sum()
    return {k: xs[k] / nat[k[1]] for k in SMALL}


def test_small_and_zero_output_province_sectors_nest_exactly():
    t = build_truth(5, small=SMALL)
    share = _size_shares(t)
    assert 0.01 < share[("XL-E", "steel")] < 0.05
    assert 0.001 < share[("XL-S", "grid")] < 0.005
    assert share[("XL-W", "ore")] == 0.0
    nested, _ = nest(t.global_mrio, t.sub, country=COUNTRY)
    assert max(errors(nested, t.true).values()) <= 1e-6
    zero = nested.rows.get_loc(("XL-W", "ore"))
    assert nested.x[zero] == 0.0 and not nested.Z[:, zero].any()  # receives nothing
    assert row_conservation(nested) <= 1e-9  # no input is lost, foreign rows included


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_small_sectors_with_province_specific_imports(seed):
    """Without proportionality small province-sectors still get imports fitting them."""
    t = build_truth(seed, small=SMALL, import_spread=0.5)
    noisy = np.random.default_rng(seed).lognormal(0.0, 0.5, size=t.sub.imports.shape)
    sub = dataclasses.replace(t.sub, imports=t.sub.imports * noisy)
    nested, _ = nest(t.global_mrio, sub, country=COUNTRY)
    s = column_sums(nested)
    prov = np.asarray(nested.rows.get_level_values(0).isin(PROV))
    assert s.max() < 1.0
    # a province-sector's A column stays near its true size, not the national sector's
    assert np.abs(s[prov] - column_sums(t.true)[prov]).max() < 0.3
    assert not nested.Z[:, nested.rows.get_loc(("XL-W", "ore"))].any()
    assert row_conservation(nested) <= 1e-9


def _noisy_exports(sub: SubnationalTable, seed: int, level: float) -> SubnationalTable:
    rng = np.random.default_rng(seed)
    exports = sub.exports * (1.0 + rng.uniform(-level, level, size=sub.exports.shape))
    x = sub.Z.sum(axis=1) + sub.Y.sum(axis=1) + exports
    return dataclasses.replace(sub, exports=exports, x=x).validate()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_ten_percent_export_noise_conserves_every_row(seed):
    t = build_truth(seed, small=SMALL)
    sub = _noisy_exports(t.sub, seed, 0.10)
    nested, rep = nest(t.global_mrio, sub, country=COUNTRY)
    assert rep.iterations > 0 and rep.export_scaling_min < 1.0 < rep.export_scaling_max
    assert row_conservation(nested) <= 1e-9
    assert column_sums(nested).max() < 1.0
    # foreign rows keep their global output and its use
    f = np.asarray(~nested.rows.get_level_values(0).isin(PROV))
    gf = np.asarray(t.global_mrio.rows.get_level_values(0) != COUNTRY)
    np.testing.assert_allclose(nested.x[f], t.global_mrio.x[gf], rtol=1e-12)
    uses = nested.Z[f].sum(1) + nested.Y[f].sum(1)
    np.testing.assert_allclose(uses, nested.x[f], rtol=1e-10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    spread=st.floats(0.0, 0.8),
    noise=st.floats(0.0, 0.15),
    shrink=st.sampled_from([1.0, 0.03, 0.003, 0.0]),
)
def test_any_valid_provincial_table_nests_validly(seed, spread, noise, shrink):
    t = build_truth(seed % 1000, small={("XL-C", "grid"): shrink}, import_spread=spread)
    rng = np.random.default_rng(seed)
    sub = _noisy_exports(t.sub, seed, noise)
    sub = dataclasses.replace(sub, imports=sub.imports * rng.lognormal(0, 1, sub.imports.shape))
    nested, _ = nest(t.global_mrio, sub, country=COUNTRY)
    assert column_sums(nested).max() < 1.0
    assert row_conservation(nested) <= 1e-9


def test_refusal_names_the_step_and_the_cause():
    t = build_truth(3)
    sub = t.sub
    # steel's domestic inputs inflated so its provinces cannot take the national imports
    j = [k for k, (_, s) in enumerate(sub.rows) if s == "steel"]
    Z = sub.Z.copy()
    jt = [t.true.rows.get_loc(sub.rows[k]) for k in j]
    foreign = ~np.asarray(t.true.rows.get_level_values(0).isin(PROV))
    imp_in = t.true.Z[np.ix_(foreign, jt)].sum(0)
    target = sub.x[j] - 0.5 * imp_in  # domestic inputs leaving room for half the imports
    Z[:, j] *= target / Z[:, j].sum(axis=0)
    Y = sub.Y.copy()
    Y[:, 0] -= Z.sum(axis=1) - sub.Z.sum(axis=1)  # keep the rows balanced
    bad = dataclasses.replace(sub, Z=Z, Y=Y).validate()
    with pytest.raises(MRIOError) as err:
        nest(t.global_mrio, bad, country=COUNTRY)
    msg = str(err.value)
    assert msg.startswith("nesting step 'imports by user': sector 'steel': the global table's ")
    assert "exceed the provinces' output of it left after their domestic inputs" in msg
    assert "check their units and the sector concordance" in msg
    # a zero-output province-sector with domestic inputs would lose them
    t0 = build_truth(5, small=SMALL)
    k = t0.sub.rows.get_loc(("XL-W", "ore"))
    Z0 = t0.sub.Z.copy()
    Z0[0, k] = 1.0
    Y0 = t0.sub.Y.copy()
    Y0[0, 0] -= 1.0
    lost = dataclasses.replace(t0.sub, Z=Z0, Y=Y0).validate()
    with pytest.raises(MRIOError, match=r"^nesting step 'sector concordance': province 'XL-W' "):
        nest(t0.global_mrio, lost, country=COUNTRY)


def test_oversized_province_import_totals_are_capped_not_refused(caplog):
    """A province claiming 1000x its imports: its small sector is filled up to A = 0.999."""
    t = build_truth(0, small={("XL-E", "steel"): 0.03})
    f = np.where(t.sub.rows.get_level_values(0) == "XL-E", 1000.0, 1.0)
    sub = dataclasses.replace(t.sub, imports=t.sub.imports * f)
    with caplog.at_level("WARNING", logger="pipeline.mrio.nesting"):
        nested, rep = nest(t.global_mrio, sub, country=COUNTRY)
    step = rep.step("imports by user")
    assert step.capped == 1 and step.row_error > 1.0
    k = nested.rows.get_loc(("XL-E", "steel"))
    s = column_sums(nested)
    assert s[k] == pytest.approx(0.999, rel=1e-9) and s.max() < 1.0
    assert "1 province-sector(s) (XL-E/steel)" in caplog.text and "check imports.csv" in caplog.text
    assert row_conservation(nested) <= 1e-9
    # the national imports by user are kept: foreign rows' use equals the global table's
    f_rows = np.asarray(~nested.rows.get_level_values(0).isin(PROV))
    into = nested.Z[np.ix_(f_rows, ~f_rows)].reshape(-1, P, G).sum(1)
    g_rows = np.asarray(t.global_mrio.rows.get_level_values(0) != COUNTRY)
    np.testing.assert_allclose(into, t.global_mrio.Z[np.ix_(g_rows, ~g_rows)], rtol=1e-10)


def _with_domestic_inputs(sub: SubnationalTable, label, ratio: float) -> SubnationalTable:
    """``sub`` with the Z column of ``label`` scaled to ``ratio`` x its output (rows kept)."""
    k = sub.rows.get_loc(label)
    Z = sub.Z.copy()
    Z[:, k] *= ratio * sub.x[k] / Z[:, k].sum()
    Y = sub.Y.copy()
    Y[:, 0] -= Z.sum(axis=1) - sub.Z.sum(axis=1)
    return dataclasses.replace(sub, Z=Z, Y=Y).validate()


def test_refusals_of_the_export_and_province_block_steps():
    t = build_truth(5, small=SMALL)
    # XL-E's steel (3 % of the sector) claims almost all of the country's steel exports
    sub = t.sub
    boost = np.where(sub.rows.get_level_values(1) == "steel", 1e-3, 1.0)
    boost[sub.rows.get_loc(("XL-E", "steel"))] = 1.0
    exports = sub.exports * boost
    x = sub.Z.sum(1) + sub.Y.sum(1) + exports
    bad = dataclasses.replace(sub, exports=exports, x=x).validate()
    with pytest.raises(MRIOError) as err:
        nest(t.global_mrio, bad, country=COUNTRY, total_rtol=1.0)
    msg = str(err.value)
    assert msg.startswith("nesting step 'exports': province 'XL-E' sector 'steel': its exports ")
    assert "exceed its output" in msg and "check exports.csv against the global table" in msg
    # a province-sector at A = 0.98 in its own table, which doubles every export (at the
    # cost of households): scaled back to the global exports, the province block grows
    # and pushes its domestic inputs past its output
    tight = _with_domestic_inputs(t.sub, ("XL-N", "grid"), 0.98)
    Y = tight.Y.copy()
    Y[:, 0] -= tight.exports
    double = dataclasses.replace(tight, exports=2 * tight.exports, Y=Y).validate()
    with pytest.raises(MRIOError) as err:
        nest(t.global_mrio, double, country=COUNTRY)
    msg = str(err.value)
    assert msg.startswith("nesting step 'province block': province 'XL-N' sector 'grid' column ")
    assert "reach its output" in msg and "check exports.csv" in msg


def test_unconverged_import_fit_is_refused_with_its_misfit():
    t = build_truth(0, small={("XL-E", "steel"): 0.03})
    f = np.where(t.sub.rows.get_level_values(0) == "XL-E", 1000.0, 1.0)
    sub = dataclasses.replace(t.sub, imports=t.sub.imports * f)
    with pytest.raises(MRIOError) as err:
        nest(t.global_mrio, sub, country=COUNTRY, max_iter=2)  # too few to meet the cap
    msg = str(err.value)
    assert msg.startswith("nesting step 'imports by user': province 'XL-E' sector 'steel' ")
    assert "its share of the national imports is too large for its size" in msg
    assert "(the fit did not converge in 4 iterations: column misfit" in msg
    assert "raise max_iter if the data are right)" in msg
