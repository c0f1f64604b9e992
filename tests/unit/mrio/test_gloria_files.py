"""GLORIA: a tiny release in the real on-disk layout, parsed by pymrio, loaded via load_global.

The files (and which pymrio function reads which) are described in ``helpers.gloria_files``:
3 regions x 2 sectors plus an empty region the parser drops, supply-use tables with
some secondary production, three EDGAR satellite rows and the ReadMe workbook.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pymrio
import pytest
from helpers.gloria_files import (
    FD_CATS,
    REGIONS,
    SATELLITES,
    SECTORS,
    YEAR,
    Release,
    make_release,
    write_release,
)
from helpers.pymrio_oracle import assert_matches_pymrio

from pipeline.errors import InputFileError, MRIOError
from pipeline.mrio import MRIO, attribute, load_global

CO2 = SATELLITES[0][0]  # "'co2_excl_short_cycle_org_c_total_EDGAR_consistent'"
CO2_LABEL = (CO2, "Emissions (EDGAR)")


@pytest.fixture(scope="module")
def release() -> Release:
    return make_release()


@pytest.fixture(scope="module")
def roots(release: Release, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same release written once as zips (as downloaded) and once extracted."""
    base = tmp_path_factory.mktemp("gloria")
    return {
        "zip": write_release(release, base / "zip", zipped=True),
        "folder": write_release(release, base / "folder", zipped=False),
    }


def load(root: Path, stressor: str | tuple[str, ...] = CO2, year: int = YEAR) -> MRIO:
    return load_global(root, format="gloria", stressor=stressor, year=year)


def dense(a: object) -> np.ndarray:
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


@pytest.mark.parametrize("layout", ["zip", "folder"])
def test_gloria_release_numbers(roots, release, layout):
    """x, Z, Y, F, F_Y equal the product-by-product system built from the SUT by hand."""
    m = load(roots[layout])
    assert m.regions == REGIONS and m.sectors == SECTORS and m.categories == FD_CATS
    assert m.rows.equals(pd.MultiIndex.from_product([REGIONS, SECTORS]))
    assert m.stressor == f"{CO2}/Emissions (EDGAR)" and m.unit == "kilotonnes"
    Z, F = release.io_tables()
    np.testing.assert_allclose(m.x, release.q, rtol=1e-12)
    np.testing.assert_allclose(dense(m.Z), Z, rtol=1e-12)
    np.testing.assert_array_equal(m.Y, release.Y)
    np.testing.assert_allclose(m.F, F[0], rtol=1e-12)
    np.testing.assert_array_equal(m.F_Y, release.YQ[0])
    # industry emissions are only redistributed over products, not created or lost
    np.testing.assert_allclose(m.F.sum(), release.TQ[0].sum(), rtol=1e-12)
    assert (dense(m.Z).sum(axis=0) / m.x).max() < 0.25 and (m.x > 100).all()


@pytest.mark.parametrize("layout", ["zip", "folder"])
def test_gloria_matches_parse_gloria(roots, layout):
    """Our MRIO is pymrio's system: A, Y, Q rows as parsed, x and accounts as calc_all gives."""
    m = load(roots[layout])
    io = pymrio.parse_gloria(roots[layout], year=YEAR)
    assert io.Z is None and io.x is None  # from_pymrio must solve x itself
    rows = pd.MultiIndex.from_tuples(m.rows)
    np.testing.assert_allclose(dense(m.Z) / m.x, io.A.loc[rows, rows].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(m.Y, io.Y.loc[rows].to_numpy())
    np.testing.assert_array_equal(m.F, io.Q.F.loc[CO2_LABEL, rows].to_numpy())
    np.testing.assert_array_equal(m.F_Y, io.Q.F_Y.loc[CO2_LABEL].to_numpy())
    solved = io.copy()
    solved.calc_system()
    np.testing.assert_allclose(m.x, solved.x.loc[rows].iloc[:, 0].to_numpy(), rtol=1e-12)
    assert_matches_pymrio(m, io, "Q", CO2_LABEL)


def test_gloria_attribution_equals_dense_inverse(roots, release):
    """attribute(): per producer it sums to F; per consumer it is F/x (I - A)^-1 Y."""
    m = load(roots["zip"])
    E = attribute(m)
    Z, F = release.io_tables()
    by_row = E.sum(("consumer", "category")).stack(row=("region", "sector"))
    got = by_row.to_series().reindex(pd.MultiIndex.from_product([REGIONS, SECTORS]))
    np.testing.assert_allclose(got.to_numpy(), F[0], rtol=1e-9)
    A = Z / release.q[None, :]
    X = np.linalg.inv(np.eye(len(A)) - A) @ release.Y
    per_column = (F[0] / release.q) @ X
    want = per_column.reshape(len(REGIONS), len(FD_CATS)).sum(axis=1)
    got = E.sum(("region", "sector", "category")).to_series().reindex(list(REGIONS))
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-9)
    np.testing.assert_allclose(want.sum(), F[0].sum(), rtol=1e-12)


@pytest.mark.parametrize(
    "stressor", [SATELLITES[2][0], f"{SATELLITES[2][0]}|Emissions (EDGAR)", SATELLITES[2][:2]]
)
def test_gloria_stressor_spellings(roots, release, stressor):
    """Indicator alone, 'indicator|head' and a tuple pick the same satellite row."""
    m = load(roots["zip"], stressor=stressor)
    assert m.unit == "kilotonnes CO2-equivalent"
    np.testing.assert_allclose(m.F, release.io_tables()[1][2], rtol=1e-12)


def test_gloria_bad_inputs(roots):
    root = roots["zip"]
    with pytest.raises(InputFileError) as err:
        load(root, year=YEAR - 1)
    msg = str(err.value)
    assert msg.startswith(f"{root}: pymrio.parse_gloria failed (IndexError")
    assert f"year={YEAR - 1} of release 59 needs GLORIA_MRIOs_59_{YEAR - 1}[.zip]" in msg
    assert f"found: GLORIA_MRIOs_59_{YEAR}.zip, GLORIA_ReadMe_059.xlsx" in msg
    # a misspelt indicator: the error lists the close row labels, quotes included
    with pytest.raises(
        MRIOError,
        match=r"stressor 'co2_excl_short_cycle_org_c_totl' not found"
        r".* extension\(s\) Q, VA.*; did you mean \"'co2_excl_short_cycle",
    ):
        load(root, stressor="co2_excl_short_cycle_org_c_totl")


def test_gloria_quotes_are_optional(roots, release):
    """GLORIA quotes its indicator names; the bare name selects the same row."""
    bare = CO2.strip("'")
    for stressor in (bare, f"{bare}|Emissions (EDGAR)"):
        m = load(roots["zip"], stressor=stressor)
        np.testing.assert_allclose(m.F, release.io_tables()[1][0], rtol=1e-12)


def test_gloria_other_release_needs_version(release, tmp_path):
    """Release 57 files load with version=57; without it the error names both."""
    root = write_release(release, tmp_path / "r57", version=57)
    m = load_global(root, format="gloria", stressor=CO2, year=YEAR, version=57)
    np.testing.assert_allclose(m.F, release.io_tables()[1][0], rtol=1e-12)
    with pytest.raises(InputFileError) as err:
        load(root)
    msg = str(err.value)
    assert "release 59 needs GLORIA_MRIOs_59_" in msg and "pass version=" in msg
    assert f"found: GLORIA_MRIOs_57_{YEAR}.zip" in msg
    with pytest.raises(MRIOError, match="version= applies to format 'gloria' only"):
        load_global(root, format="eora26", stressor="CO2", year=YEAR, version=57)
    with pytest.raises(MRIOError, match="version= applies to format 'gloria' only, not 'plain'"):
        load_global(root, format="plain", stressor="CO2", version=57)
