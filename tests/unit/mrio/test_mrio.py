"""MRIO model, validation errors, pymrio oracle and plain format.

The dask engine on a LocalCluster is in ``tests/integration/test_mrio_cluster.py``.
"""

import numpy as np
import pandas as pd
import pymrio
import pytest

from pipeline.errors import InputFileError, MRIOError
from pipeline.mrio import (
    MRIO,
    attribute,
    attribution_shares,
    from_pymrio,
    read_plain,
    read_subnational,
    solve_final_demand,
    write_plain,
    write_subnational,
)

STRESSOR = ("emission_type1", "air")


@pytest.fixture(scope="module")
def test_io():
    return pymrio.load_test()


@pytest.fixture(scope="module")
def test_mrio(test_io):
    return from_pymrio(test_io.copy(), stressor=STRESSOR)


def small(**over) -> MRIO:
    """2 regions x 2 sectors, balanced (x = Z·1 + Y·1), with F_Y."""
    rows = pd.MultiIndex.from_product([["R1", "R2"], ["agri", "power"]], names=["region", "sector"])
    cols = pd.MultiIndex.from_product([["R1", "R2"], ["hh", "gov"]], names=["region", "category"])
    Z = np.array([[5.0, 2, 1, 0], [3, 4, 1, 2], [0, 1, 6, 3], [2, 0, 2, 5]])
    Y = np.array([[10.0, 2, 1, 0], [5, 1, 2, 1], [1, 0, 12, 3], [0, 1, 8, -1]])
    kw = dict(
        Z=Z,
        Y=Y,
        x=Z.sum(1) + Y.sum(1),
        F=np.array([1.0, 30, 2, 40]),
        F_Y=np.array([3.0, 0, 4, 0]),
        rows=rows,
        fd_columns=cols,
    )
    kw.update(over)
    return MRIO(**kw)


# ----------------------------------------------------------------------------- model
def test_properties_and_region_rows():
    m = small().validate()
    assert m.regions == ("R1", "R2") and m.sectors == ("agri", "power")
    assert m.categories == ("hh", "gov") and m.n == 4
    np.testing.assert_array_equal(m.region_rows("R2"), [2, 3])
    np.testing.assert_array_equal(m.region_rows(["R2", "R1"]), [0, 1, 2, 3])
    with pytest.raises(MRIOError, match="region 'XX' is not in the MRIO rows"):
        m.region_rows("XX")


def test_unbalanced_names_worst_row():
    x = small().x.copy()
    x[3] *= 1.2
    with pytest.raises(MRIOError, match=r"unbalanced row \('R2', 'power'\).*balance_rtol"):
        small(x=x).validate()
    small(x=small().x * (1 + 1e-9)).validate()  # within the default tolerance


def test_negative_and_nan_name_label():
    Z = small().Z.copy()
    Z[1, 2] = -1.0
    with pytest.raises(
        MRIOError,
        match=r"negative value -1 in Z at row \('R1', 'power'\), "
        r"column \('R2', 'agri'\)",
    ):
        small(Z=Z).validate(balance_rtol=1)
    F = small().F.copy()
    F[2] = np.nan
    with pytest.raises(MRIOError, match=r"non-finite value nan in F at \('R2', 'agri'\)"):
        small(F=F).validate()


def test_duplicate_label_and_shape():
    rows = pd.MultiIndex.from_tuples(
        [("R1", "agri"), ("R1", "power"), ("R2", "agri"), ("R1", "agri")],
        names=["region", "sector"],
    )
    with pytest.raises(MRIOError, match=r"duplicate row label \('R1', 'agri'\)"):
        small(rows=rows).validate()
    with pytest.raises(MRIOError, match=r"F has shape \(3,\), expected \(4,\)"):
        small(F=np.ones(3)).validate()


def test_column_sum_at_least_one_is_singular():
    Z = small().Z.copy()
    Z[:, 1] *= 10  # column ('R1','power') uses more than it produces
    Y = small().Y.copy()
    x = Z.sum(1) + Y.sum(1)
    Z[0, 1] += x[1]
    x = Z.sum(1) + Y.sum(1)
    with pytest.raises(MRIOError, match=r"column \('R1', 'power'\) of A = Z/x sums to .* singular"):
        small(Z=Z, x=x).validate()


def test_zero_output_with_emissions():
    Z, Y = small().Z.copy(), small().Y.copy()
    Z[2, :] = 0
    Z[:, 2] = 0
    Y[2, :] = 0
    with pytest.raises(MRIOError, match=r"emissions but zero output: \('R2', 'agri'\)"):
        small(Z=Z, Y=Y, x=Z.sum(1) + Y.sum(1)).validate()


# ----------------------------------------------------------------------------- pymrio oracle
def test_from_pymrio_labels_and_unit(test_mrio):
    assert test_mrio.rows.names == ["region", "sector"]
    assert test_mrio.fd_columns.names == ["region", "category"]
    assert test_mrio.unit == "kg" and test_mrio.F_Y is not None


def test_attribution_matches_pymrio_accounts(test_io, test_mrio):
    io = test_io.copy()
    io.calc_all()
    E = attribute(test_mrio)
    # production side: summing over consumers gives D_pba (= F) per region-sector
    pba = io.emissions.D_pba.loc[STRESSOR]
    ours = E.sum(("consumer", "category")).to_series()
    np.testing.assert_allclose(ours.reindex(pba.index).to_numpy(), pba.to_numpy(), rtol=1e-9)
    # consumption side: D_cba columns are (consumer region, product sector); summed per region
    cba = io.emissions.D_cba.loc[STRESSOR].groupby(level="region").sum()
    by_consumer = E.sum(("region", "sector", "category")).to_series()
    np.testing.assert_allclose(by_consumer.reindex(cba.index).to_numpy(), cba.to_numpy(), rtol=1e-9)
    # D_cba_reg additionally holds the direct final-demand emissions F_Y
    Ef = attribute(test_mrio, include_final_demand_emissions=True)
    reg = io.emissions.D_cba_reg.loc[STRESSOR]
    got = Ef.sum(("region", "sector", "category")).to_series()
    np.testing.assert_allclose(got.reindex(reg.index).to_numpy(), reg.to_numpy(), rtol=1e-9)
    assert "final_demand" in Ef.sector.values


def test_rows_subset_and_blocks_equal_full(test_mrio):
    full = solve_final_demand(test_mrio)
    keep = test_mrio.region_rows("reg3")
    for bc in (1, 5, 7, None):
        part = solve_final_demand(test_mrio, rows=keep, block_columns=bc)
        np.testing.assert_allclose(part, full[keep], rtol=1e-12)


def test_fill_zero_for_absent_combinations():
    m = small()
    cols = pd.MultiIndex.from_tuples(
        [("R1", "hh"), ("R1", "gov"), ("R2", "hh"), ("R2", "inv")], names=["region", "category"]
    )
    m = MRIO(Z=m.Z, Y=m.Y, x=m.x, F=m.F, F_Y=None, rows=m.rows, fd_columns=cols).validate()
    S = attribution_shares(m)
    assert list(S.category.values) == ["hh", "gov", "inv"]
    assert float(S.sel(consumer="R1", category="inv").sum()) == 0.0
    assert float(S.sel(consumer="R2", category="gov").sum()) == 0.0
    np.testing.assert_allclose(S.sum(("consumer", "category")).values, 1.0, rtol=1e-12)


# ----------------------------------------------------------------------------- plain format
def _assert_same(a: MRIO, b: MRIO) -> None:
    assert a.rows.equals(b.rows) and a.fd_columns.equals(b.fd_columns)
    for k in ("Z", "Y", "x", "F", "F_Y"):
        np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=1e-15, err_msg=k)
    assert (a.stressor, a.unit) == (b.stressor, b.unit)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_plain_round_trip(tmp_path, fmt, test_mrio):
    if fmt == "parquet":
        pytest.importorskip("pyarrow", reason="pyarrow not installed: parquet not testable")
    m = MRIO(**{**test_mrio.__dict__, "stressor": "CO2"})
    paths = write_plain(m, tmp_path / "t", fmt=fmt)
    assert paths["Z"].suffix == f".{fmt}"
    back = read_plain(tmp_path / "t")
    _assert_same(m, back)
    assert all(isinstance(v, str) for v in back.rows.get_level_values(0))


def test_plain_numeric_looking_labels_stay_strings(tmp_path):
    m = small()
    rows = pd.MultiIndex.from_product([["01", "2"], ["10", "11"]], names=["region", "sector"])
    m = MRIO(
        **{
            **m.__dict__,
            "rows": rows,
            "fd_columns": pd.MultiIndex.from_product(
                [["01", "2"], ["1", "2"]], names=["region", "category"]
            ),
        }
    )
    write_plain(m, tmp_path)
    back = read_plain(tmp_path)
    assert back.rows[0] == ("01", "10")


def test_plain_label_mismatch_names_file(tmp_path):
    write_plain(small(), tmp_path)
    y = pd.read_csv(tmp_path / "Y.csv", header=[0, 1], index_col=[0, 1])
    y = y.rename(index={"power": "electricity"}, level=1)
    y.to_csv(tmp_path / "Y.csv")
    with pytest.raises(
        MRIOError,
        match=r"Y\.csv: row label \('R1', 'power'\) of .*Z\.csv rows "
        r"is missing",
    ):
        read_plain(tmp_path)


def test_plain_x_checked_and_optional(tmp_path):
    write_plain(small(), tmp_path)
    (tmp_path / "x.csv").unlink()
    np.testing.assert_allclose(read_plain(tmp_path).x, small().x)
    pd.DataFrame({"x": small().x * 1.01}, index=small().rows).to_csv(tmp_path / "x.csv")
    with pytest.raises(MRIOError, match="unbalanced row"):
        read_plain(tmp_path)


def test_plain_missing_file_and_stressor(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_plain(tmp_path / "nope")
    write_plain(small(), tmp_path)
    with pytest.raises(MRIOError, match=r"F\.csv: no stressor row 'CH4'"):
        read_plain(tmp_path, stressor="CH4")
    (tmp_path / "Z.csv").unlink()
    with pytest.raises(InputFileError, match=r"missing .*Z\.csv"):
        read_plain(tmp_path)


def test_subnational_round_trip(tmp_path, demo_tables):
    sub = demo_tables.provincial
    write_subnational(sub, tmp_path / "prov")
    back = read_subnational(tmp_path / "prov")
    assert back.rows.equals(sub.rows) and back.fd_columns.equals(sub.fd_columns)
    for k in ("Z", "Y", "exports", "imports", "x", "F", "F_Y"):
        np.testing.assert_allclose(getattr(back, k), getattr(sub, k), rtol=1e-15, err_msg=k)
    (tmp_path / "prov" / "imports.csv").unlink()
    with pytest.raises(InputFileError, match=r"imports\.csv"):
        read_subnational(tmp_path / "prov")
