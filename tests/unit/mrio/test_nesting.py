"""Nesting a provincial table into the global MRIO."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ConcordanceError, MRIOError
from pipeline.mrio import nest
from pipeline.mrio.nesting import gras


def _assert_tables_equal(a, b, rtol=1e-9, *, imports_as_totals=False):
    """``a == b``; with ``imports_as_totals`` the foreign->province blocks only in total.

    The demo's true table splits imports with one province share per product for every
    user (the old nesting assumption), not per user as nesting now does: its
    foreign->province cells differ, their national totals per (origin row, user) do not.
    """
    assert a.rows.equals(b.rows) and a.fd_columns.equals(b.fd_columns)
    scale = {"Z": a.x.max(), "Y": a.x.max(), "x": a.x.max(), "F": a.F.max(), "F_Y": a.F.max()}
    prov = a.rows.get_level_values(0).str.startswith("CN-")
    pcol = a.fd_columns.get_level_values(0).str.startswith("CN-")
    for k, s in scale.items():
        got, want = np.array(getattr(a, k)), np.array(getattr(b, k))  # copies
        if imports_as_totals and k in ("Z", "Y"):
            cols = prov if k == "Z" else pcol
            block = np.ix_(~prov, cols)
            n_users = 14 if k == "Z" else 4
            for m in (got, want):  # national totals by (foreign row, user)
                m[block] = np.tile(m[block].reshape(-1, 31, n_users).sum(1), 31) / 31
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * s * 1e-3, err_msg=k)


def test_demo_nests_back_to_true_table(demo_tables):
    t = demo_tables
    nested, rep = nest(t.global_mrio, t.provincial, country="CHN", sector_concordance=t.concordance)
    _assert_tables_equal(nested, t.true_nested, imports_as_totals=True)
    assert rep.iterations == 0 and rep.max_rel_adjustment == 0.0
    assert rep.export_scaling_min == pytest.approx(1.0, rel=1e-12)
    assert rep.export_scaling_max == pytest.approx(1.0, rel=1e-12)
    assert rep.max_row_imbalance < 1e-12 and rep.dropped_F_Y == 0.0
    assert nested.regions[:3] == ("CN-BJ", "CN-TJ", "CN-HE") and nested.regions[-1] == "ROW"


def test_identity_default_and_renamed_sector_concordance(demo_tables):
    t = demo_tables
    nested, _ = nest(t.global_mrio, t.provincial, country="CHN")
    _assert_tables_equal(nested, t.true_nested, imports_as_totals=True)
    sub = t.provincial
    rows = pd.MultiIndex.from_tuples(
        [(p, "power" if s == "electricity_heat" else s) for p, s in sub.rows],
        names=["region", "sector"],
    )
    renamed = dataclasses.replace(sub, rows=rows)
    conc = t.concordance.copy()
    conc.loc[conc.sub_sector == "electricity_heat", "sub_sector"] = "power"
    nested2, _ = nest(t.global_mrio, renamed, country="CHN", sector_concordance=conc)
    _assert_tables_equal(nested2, nested)
    with pytest.raises(ConcordanceError, match=r"lacks \['electricity_heat'\].*\['power'\]"):
        nest(t.global_mrio, renamed, country="CHN")


def test_split_concordance_conserves_totals(demo_tables):
    # "mining" rows are split 70/30 into mining and petroleum_coking
    t = demo_tables
    conc = t.concordance.copy()
    conc.loc[conc.sub_sector == "mining", "weight"] = 0.7
    conc = pd.concat(
        [
            conc,
            pd.DataFrame(
                {"sub_sector": ["mining"], "global_sector": ["petroleum_coking"], "weight": [0.3]}
            ),
        ]
    )
    nested, rep = nest(t.global_mrio, t.provincial, country="CHN", sector_concordance=conc)
    assert nested.F.sum() == pytest.approx(t.true_nested.F.sum(), rel=1e-12)
    prov = nested.region_rows(list(t.provincial.regions))
    assert nested.x[prov].sum() == pytest.approx(t.provincial.x.sum(), rel=1e-12)
    assert rep.max_row_imbalance < 1e-9


@pytest.mark.parametrize(("weight", "what"), [(0.9, "loses output"), (1.2, "double counts")])
def test_concordance_weights_must_sum_to_one(demo_tables, weight, what):
    conc = demo_tables.concordance.copy()
    conc.loc[conc.sub_sector == "textiles", "weight"] = weight
    with pytest.raises(ConcordanceError, match=f"sub sector 'textiles' sum to .* so it {what}"):
        nest(
            demo_tables.global_mrio, demo_tables.provincial, country="CHN", sector_concordance=conc
        )


def test_concordance_unknown_global_and_missing_sub(demo_tables):
    conc = demo_tables.concordance.copy()
    conc.loc[conc.sub_sector == "food", "global_sector"] = "tobacco"
    with pytest.raises(ConcordanceError, match="global sector 'tobacco'"):
        nest(
            demo_tables.global_mrio, demo_tables.provincial, country="CHN", sector_concordance=conc
        )
    conc = demo_tables.concordance[demo_tables.concordance.sub_sector != "food"]
    with pytest.raises(ConcordanceError, match="sub sector 'food' is missing"):
        nest(
            demo_tables.global_mrio, demo_tables.provincial, country="CHN", sector_concordance=conc
        )


def test_inconsistent_exports_are_rebalanced(demo_tables):
    t = demo_tables
    sub = t.provincial
    reg = sub.rows.get_level_values(0)
    factor = np.where(reg == "CN-GD", 1.3, np.where(reg == "CN-JS", 0.8, 1.0))
    exports = sub.exports * factor
    x = sub.Z.sum(1) + sub.Y.sum(1) + exports
    bad = dataclasses.replace(sub, exports=exports, x=x).validate()
    nested, rep = nest(t.global_mrio, bad, country="CHN")
    assert rep.iterations > 0
    assert rep.max_rel_adjustment > 1e-3 and rep.mean_rel_adjustment > 0
    assert rep.export_scaling_min < 1.0 < rep.export_scaling_max
    assert rep.max_row_imbalance < 1e-9
    # province rows keep their subnational output; foreign rows are untouched
    np.testing.assert_allclose(nested.x[: len(x)], x, rtol=1e-12)
    f = nested.region_rows("USA")
    np.testing.assert_allclose(nested.Z[np.ix_(f, f)], t.true_nested.Z[np.ix_(f, f)], rtol=1e-12)
    # country exports equal the global table's (the benchmark for international trade)
    p = np.arange(len(x))
    foreign = np.setdiff1d(np.arange(nested.n), p)
    got = nested.Z[np.ix_(p, foreign)].sum() + nested.Y[p][:, 31 * 4 :].sum()
    assert got == pytest.approx(t.provincial.exports.sum(), rel=1e-12)


def test_gras_with_negative_cells():
    B = np.array([[4.0, 2.0, -1.0], [1.0, 3.0, 2.0]])
    u, v = np.array([6.0, 7.0]), np.array([5.5, 6.0, 1.5])
    X, it = gras(B, u, v, tol=1e-12)
    assert it > 0
    np.testing.assert_allclose(X.sum(1), u, rtol=1e-12)
    np.testing.assert_allclose(X.sum(0), v, rtol=1e-10)
    assert X[0, 2] < 0  # signs preserved


def test_nesting_errors(demo_tables):
    t = demo_tables
    with pytest.raises(MRIOError, match="country 'XXX' is not a region"):
        nest(t.global_mrio, t.provincial, country="XXX")
    cols = pd.MultiIndex.from_tuples(
        [(p, "gov" if c == "government" else c) for p, c in t.provincial.fd_columns],
        names=["region", "category"],
    )
    with pytest.raises(MRIOError, match="final-demand categories differ"):
        nest(t.global_mrio, dataclasses.replace(t.provincial, fd_columns=cols), country="CHN")
    rows = pd.MultiIndex.from_tuples(
        [("USA" if p == "CN-BJ" else p, s) for p, s in t.provincial.rows],
        names=["region", "sector"],
    )
    with pytest.raises(MRIOError, match="subnational region 'USA' is also a foreign region"):
        nest(t.global_mrio, dataclasses.replace(t.provincial, rows=rows), country="CHN")


def _scaled(sub, factor):
    """The subnational table in other units: every flow times ``factor``."""
    fields = ("Z", "Y", "exports", "imports", "x")
    return dataclasses.replace(sub, **{k: getattr(sub, k) * factor for k in fields})


def test_country_totals_must_agree_within_total_rtol(demo_tables):
    t = demo_tables
    _, report = nest(t.global_mrio, t.provincial, country="CHN")
    assert report.output_ratio == pytest.approx(1.0, rel=1e-12)
    chn = t.global_mrio.rows.get_level_values(0) == "CHN"
    total = t.global_mrio.x[chn].sum()
    # 10^4 yuan instead of M USD (x 1.5 here): named, with both totals and the fix
    with pytest.raises(MRIOError) as err:
        nest(t.global_mrio, _scaled(t.provincial, 1.5), country="CHN")
    msg = str(err.value)
    assert f"subnational total output {1.5 * total:.6g} differs" in msg
    assert f"'CHN' block ({total:.6g}) by 50.0%, more than total_rtol = 0.1" in msg
    assert "same units, prices and year, or raise `total_rtol`" in msg
    # within a stated, looser tolerance it nests, and the report says by how much
    _, loose = nest(t.global_mrio, _scaled(t.provincial, 1.05), country="CHN")
    assert loose.output_ratio == pytest.approx(1.05, rel=1e-12)
    _, wide = nest(t.global_mrio, _scaled(t.provincial, 1.5), country="CHN", total_rtol=0.6)
    assert wide.output_ratio == pytest.approx(1.5, rel=1e-12)


def test_total_rtol_boundary_and_bad_values(demo_tables):
    t = demo_tables
    _, exact = nest(t.global_mrio, _scaled(t.provincial, 1.1), country="CHN", total_rtol=0.1)
    assert exact.output_ratio == pytest.approx(1.1, rel=1e-12)  # at the tolerance: accepted
    for bad in (float("nan"), -0.1, float("inf")):
        with pytest.raises(MRIOError, match="total_rtol must be a finite number >= 0"):
            nest(t.global_mrio, t.provincial, country="CHN", total_rtol=bad)
    from pipeline.mrio.nesting import _check_country_totals

    with pytest.raises(MRIOError, match=r"'CHN' block has no output \(0\), so there is nothing"):
        _check_country_totals(np.ones(2), np.zeros(2), ("a", "b"), "CHN", 0.1)
