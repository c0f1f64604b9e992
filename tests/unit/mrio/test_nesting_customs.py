"""Customs destinations: provinces' exports by destination replace the national mix."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from helpers.nesting_truth import (
    COUNTRY,
    FOREIGN,
    PROV,
    SECT,
    build_truth,
    errors,
    row_conservation,
)

from pipeline.errors import MRIOError
from pipeline.mrio import nest, read_subnational, write_subnational


def _true_exports(t) -> np.ndarray:
    """``E[p, i, S]``: the true exports of province p's product i to foreign region S."""
    m = t.true
    prov = np.asarray(m.rows.get_level_values(0).isin(PROV))
    out = np.zeros((len(PROV), len(SECT), len(FOREIGN)))
    for s, S in enumerate(FOREIGN):
        zc = np.asarray(m.rows.get_level_values(0) == S)
        yc = np.asarray(m.fd_columns.get_level_values(0) == S)
        e = m.Z[np.ix_(prov, zc)].sum(1) + m.Y[np.ix_(prov, yc)].sum(1)
        out[:, :, s] = e.reshape(len(PROV), len(SECT))
    return out


def _customs(E: np.ndarray, by_product: bool) -> pd.DataFrame:
    rows = []
    for p, prov in enumerate(PROV):
        for s, dest in enumerate(FOREIGN):
            if by_product:
                rows += [(prov, sec, dest, E[p, i, s]) for i, sec in enumerate(SECT)]
            else:
                rows.append((prov, dest, E[p, :, s].sum()))
    cols = ["region", "sector", "destination", "value"] if by_product else None
    return pd.DataFrame(rows, columns=cols or ["region", "destination", "value"])


@pytest.mark.parametrize(
    ("destinations", "by_product"), [("by_product", True), ("by_province", False)]
)
def test_customs_destinations_reproduce_the_truth(destinations, by_product):
    t = build_truth(21, destinations=destinations)
    # the provinces' destination mixes really differ, so the national mix is wrong
    E = _true_exports(t)
    mix = E.sum(1) / E.sum(axis=(1, 2))[:, None]
    assert np.ptp(mix, axis=0).max() > 0.1
    plain, _ = nest(t.global_mrio, t.sub, country=COUNTRY)
    wrong = errors(plain, t.true)
    assert wrong["province x consumer"] > 1e-2 and wrong["consumer region"] > 1e-4
    sub = dataclasses.replace(t.sub, exports_by_destination=_customs(E, by_product))
    nested, rep = nest(t.global_mrio, sub, country=COUNTRY)
    err = errors(nested, t.true)
    assert max(err.values()) <= 1e-6, err
    assert rep.step("export destinations").row_error <= 1e-9
    assert row_conservation(nested) <= 1e-9


def test_customs_with_wrong_totals_is_fitted_to_the_global_table():
    """Customs values in other units and noisy: fitted to EX_g by product and destination."""
    t = build_truth(22, destinations="by_product")
    E = _true_exports(t)
    noisy = E * 1e3 * np.random.default_rng(0).uniform(0.7, 1.3, size=E.shape)
    sub = dataclasses.replace(t.sub, exports_by_destination=_customs(noisy, True))
    nested, rep = nest(t.global_mrio, sub, country=COUNTRY)
    got = _true_exports(dataclasses.replace(t, true=nested))
    # margins: by province and product (the provincial exports), by product and destination
    np.testing.assert_allclose(got.sum(2), E.sum(2), rtol=1e-8)
    np.testing.assert_allclose(got.sum(0), E.sum(0), rtol=1e-10)
    assert 0 < rep.step("export destinations").iterations
    assert row_conservation(nested) <= 1e-9
    # all of XL-S's exports to BET only: more ore than the country sends there
    one = _customs(E, True)
    one.loc[(one.region == "XL-S") & (one.destination != "BET"), "value"] = 0.0
    ore = SECT.index("ore")
    assert E[PROV.index("XL-S"), ore].sum() > E[:, ore, FOREIGN.index("BET")].sum()
    bad = dataclasses.replace(t.sub, exports_by_destination=one)
    with pytest.raises(MRIOError) as exc:
        nest(t.global_mrio, bad, country=COUNTRY)
    msg = str(exc.value)
    assert msg.startswith("nesting step 'export destinations': the exports of 'ore' by ")
    assert "province 'XL-S'" in msg and "customs destinations ['BET']" in msg


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda df: df.assign(destination="XLN"), "destination 'XLN' is not a foreign region"),
        (lambda df: df.assign(region="XL-Q"), "region 'XL-Q' is not a region"),
        (lambda df: df.assign(value=-1.0), r"value '-1.0' \(row 0\) is not a number >= 0"),
        (lambda df: df.rename(columns={"value": "usd"}), "needs columns region,destination,value"),
    ],
)
def test_bad_customs_files_are_named(edit, message):
    t = build_truth(21, destinations="by_province")
    sub = dataclasses.replace(t.sub, exports_by_destination=edit(_customs(_true_exports(t), 0)))
    with pytest.raises(MRIOError, match=f"exports_by_destination: .*{message}"):
        nest(t.global_mrio, sub, country=COUNTRY)


def test_customs_file_round_trip(tmp_path):
    t = build_truth(21, destinations="by_product")
    df = _customs(_true_exports(t), True)
    sub = dataclasses.replace(t.sub, exports_by_destination=df)
    paths = write_subnational(sub, tmp_path / "prov")
    assert paths["exports_by_destination"].name == "exports_by_destination.csv"
    back = read_subnational(tmp_path / "prov")
    pd.testing.assert_frame_equal(back.exports_by_destination, df, check_exact=False, rtol=1e-15)
    a, _ = nest(t.global_mrio, back, country=COUNTRY)
    assert max(errors(a, t.true).values()) <= 1e-6
    region_only = _customs(_true_exports(t), False)
    write_subnational(dataclasses.replace(sub, exports_by_destination=region_only), tmp_path / "r")
    back = read_subnational(tmp_path / "r").exports_by_destination
    assert list(back.columns) == ["region", "destination", "value"]
    assert back.value.sum() == pytest.approx(region_only.value.sum(), rel=1e-14)
    write_subnational(t.sub, tmp_path / "plain")
    assert read_subnational(tmp_path / "plain").exports_by_destination is None
