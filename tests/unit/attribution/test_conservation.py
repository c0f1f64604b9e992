"""The conservation checks of pipeline.attribution.cube on hand-made numbers.

- :func:`check_conservation` on hand-made results dicts: per cell, per consumer,
  attribution vs inventory, sector and category cubes; at, just under and just
  over the 1e-6 relative tolerance; NaN and Inf; zero totals.
- :func:`check_row_conservation` on hand-made attrs, and on those
  :func:`pipeline.mrio.engine.row_conservation` gives for a hand-made table: every row.
- the write pass's terms (:mod:`pipeline.kernels.write_pass`) of hand-made tables on a
  2 x 3 grid, with injected kernel faults, then checked.
"""

from __future__ import annotations

import re

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline.attribution.conservation import (
    CONSERVATION_RTOL,
    check_conservation,
    check_row_conservation,
    terms_as_results,
)
from pipeline.errors import ConservationError
from pipeline.grid.write_blocks import write_layers
from pipeline.kernels import write_pass
from pipeline.kernels.write_pass import WriteTables
from pipeline.mrio import MRIO
from pipeline.mrio.engine import row_conservation

FIX = "check that the MRIO is balanced and every emitting region has MRIO rows"
ROW_FIX = (
    "more or less than its F; its inputs or output are lost "
    "(e.g. a zero-output sector that receives inputs): fix the table or its nesting"
)
#: The five checks, in the order check_conservation names them.
CHECKS = (
    "per-cell consumers vs inventory",
    "cell sums vs attribution",
    "attribution vs inventory",
    "sector cube vs foreign total",
    "category cube vs foreign total",
)


def attribution(per_consumer) -> xr.DataArray:
    """An attribution cube whose totals per consumer are ``per_consumer``."""
    values = np.asarray(per_consumer, dtype=float)
    # two producer regions x two sectors carrying 1/8, 1/8, 1/4, 1/2 of each consumer
    parts = np.array([[0.125, 0.125], [0.25, 0.5]])
    data = parts[:, :, None, None] * values[None, None, :, None]
    return xr.DataArray(data, dims=("region", "sector", "consumer", "category"))


def terms(inventory, consumer_totals, *, cell=0.0, by_sector=0.0, by_category=0.0) -> dict:
    """A results dict as :func:`terms_as_results` names the write pass's terms."""
    return {
        "inventory_total": inventory,
        "cell_max_abs_error": 0.0,
        "cell_max_rel_error": cell,
        "consumer_cell_totals": np.asarray(consumer_totals, dtype=float),
        "foreign_by_sector_error": by_sector,
        "foreign_by_category_error": by_category,
    }


def failure(check: str, error: str, rtol: str = "1e-06") -> str:
    return f"conservation failed: {check} differs by {error} (relative) > {rtol}; {FIX}"


# ------------------------------------------------------------------------ check_conservation
def test_the_tolerance_is_one_in_a_million():
    assert CONSERVATION_RTOL == 1e-6


def test_exact_results_pass_with_zero_error():
    results = terms(1000.0, [600.0, 400.0])
    assert check_conservation(results, attribution([600.0, 400.0])) == 0.0


@pytest.mark.parametrize("largest", CHECKS)
def test_passing_results_return_the_largest_of_the_five_errors(largest):
    """Inventory 1000 t: each check carries its own error, ``largest`` has 9e-7."""
    gap = dict(zip(CHECKS, (1e-7, 2e-7, 3e-7, 4e-7, 5e-7), strict=True))
    gap[largest] = 9e-7
    inventory = 1000.0
    per_consumer = np.array([600.0, 400.0 + gap["attribution vs inventory"] * inventory])
    totals = per_consumer + [gap["cell sums vs attribution"] * inventory, 0.0]
    results = terms(
        inventory,
        totals,
        cell=gap["per-cell consumers vs inventory"],
        by_sector=gap["sector cube vs foreign total"] * inventory,
        by_category=gap["category cube vs foreign total"] * inventory,
    )
    assert check_conservation(results, attribution(per_consumer)) == pytest.approx(9e-7, rel=1e-9)


def test_per_cell_error_at_the_tolerance_passes_and_one_ulp_above_fails():
    at = terms(10.0, [4.0, 6.0], cell=CONSERVATION_RTOL)
    assert check_conservation(at, attribution([4.0, 6.0])) == CONSERVATION_RTOL
    above = terms(10.0, [4.0, 6.0], cell=np.nextafter(CONSERVATION_RTOL, 1.0))
    with pytest.raises(ConservationError) as info:
        check_conservation(above, attribution([4.0, 6.0]))
    assert str(info.value) == failure("per-cell consumers vs inventory", "1e-06")


def off_by(check: str, gap: float) -> tuple[dict, xr.DataArray]:
    """1e6 t of inventory where only ``check`` is off, by ``gap`` tonnes (or relative per cell)."""
    inventory, per_consumer = 1e6, np.array([4e5, 6e5])
    totals = per_consumer.copy()
    cell = by_sector = by_category = 0.0
    if check == "per-cell consumers vs inventory":
        cell = gap / inventory
    elif check == "cell sums vs attribution":  # one consumer's cells move to the other
        totals = per_consumer + [gap, -gap]
    elif check == "attribution vs inventory":
        per_consumer = per_consumer + [0.0, gap]
        totals = per_consumer
    elif check == "sector cube vs foreign total":
        by_sector = gap
    else:
        by_category = gap
    results = terms(inventory, totals, cell=cell, by_sector=by_sector, by_category=by_category)
    return results, attribution(per_consumer)


@pytest.mark.parametrize("check", CHECKS)
def test_just_over_one_in_a_million_fails_naming_the_check(check):
    results, cube = off_by(check, 1.01)  # 1.01 t in 1e6 t
    with pytest.raises(ConservationError) as info:
        check_conservation(results, cube)
    assert str(info.value) == failure(check, "1.01e-06")


@pytest.mark.parametrize("check", CHECKS)
def test_just_under_one_in_a_million_passes_and_returns_it(check):
    results, cube = off_by(check, 0.99)
    assert check_conservation(results, cube) == pytest.approx(0.99e-6, rel=1e-9)


def test_per_consumer_gaps_that_cancel_in_the_total_still_fail():
    """Consumer A's cells hold 2 t more than its attribution, B's 2 t less: same total."""
    results = terms(1e6, [4e5 + 2.0, 6e5 - 2.0])
    with pytest.raises(ConservationError) as info:
        check_conservation(results, attribution([4e5, 6e5]))
    assert str(info.value) == failure("cell sums vs attribution", "2e-06")


@pytest.mark.parametrize(
    ("where", "value", "check", "shown"),
    [
        ("cell", np.nan, "per-cell consumers vs inventory", "nan"),
        ("cell", np.inf, "per-cell consumers vs inventory", "inf"),
        ("totals", np.nan, "cell sums vs attribution", "nan"),
        ("totals", np.inf, "cell sums vs attribution", "inf"),
        ("totals", -np.inf, "cell sums vs attribution", "inf"),
        ("attribution", np.inf, "cell sums vs attribution", "inf"),
        ("inventory", np.nan, "cell sums vs attribution", "nan"),
        ("inventory", np.inf, "attribution vs inventory", "nan"),  # inf / inf
        ("by_sector", np.nan, "sector cube vs foreign total", "nan"),
        ("by_sector", np.inf, "sector cube vs foreign total", "inf"),
        ("by_category", np.nan, "category cube vs foreign total", "nan"),
        ("by_category", np.inf, "category cube vs foreign total", "inf"),
    ],
)
def test_nan_and_inf_never_pass(where, value, check, shown):
    inventory, totals, per_consumer = 1000.0, [600.0, 400.0], [600.0, 400.0]
    extra = {}
    if where == "inventory":
        inventory = value
    elif where == "totals":
        totals = [600.0, value]
    elif where == "attribution":
        per_consumer = [value, 400.0]
    else:
        extra[where] = value
    with pytest.raises(ConservationError) as info:
        check_conservation(terms(inventory, totals, **extra), attribution(per_consumer))
    assert str(info.value) == failure(check, shown)


def test_a_nan_in_the_attribution_never_passes():
    """Every term agrees, but one (region, sector) of consumer A is NaN."""
    values = np.zeros((2, 1, 2, 1))
    values[0, 0, :, 0] = [600.0, 400.0]
    values[1, 0, 0, 0] = np.nan
    cube = xr.DataArray(values, dims=("region", "sector", "consumer", "category"))
    with pytest.raises(ConservationError):
        check_conservation(terms(1000.0, [600.0, 400.0]), cube)


def test_all_zero_inventory_and_attribution_conserve():
    results = terms(0.0, [0.0, 0.0, 0.0])
    assert check_conservation(results, attribution([0.0, 0.0, 0.0])) == 0.0


def test_a_consumer_with_zero_footprint_conserves():
    assert check_conservation(terms(1000.0, [1000.0, 0.0]), attribution([1000.0, 0.0])) == 0.0


def test_zero_inventory_with_attributed_co2_fails():
    """~1 kg (2**-10 t) attributed where the mapped inventory is 0 t: relative to 1e-300."""
    kg = 2.0**-10  # exact in binary, so the per-consumer sums agree exactly
    with pytest.raises(ConservationError) as info:
        check_conservation(terms(0.0, [kg, 0.0]), attribution([kg, 0.0]))
    assert str(info.value) == failure("attribution vs inventory", "9.77e+296")


def test_a_looser_rtol_passes_what_the_default_refuses():
    results, cube = off_by("attribution vs inventory", 100.0)  # 1e-4 relative
    assert check_conservation(results, cube, rtol=1e-3) == pytest.approx(1e-4, rel=1e-12)
    with pytest.raises(ConservationError) as info:
        check_conservation(results, cube, rtol=1e-5)
    assert str(info.value) == failure("attribution vs inventory", "0.0001", rtol="1e-05")


# -------------------------------------------------------------------- check_row_conservation
def row_attrs(error, row="('CHN', 'power')") -> dict:
    return {"row_conservation_max_rel_error": error, "row_conservation_worst_row": row}


def row_failure(error: str, row: str = "('CHN', 'power')") -> str:
    return f"conservation failed: MRIO row {row} is attributed {error} (relative) {ROW_FIX}"


@pytest.mark.parametrize("error", [0.0, 3e-7, CONSERVATION_RTOL])
def test_row_error_up_to_the_tolerance_is_returned(error):
    assert check_row_conservation(row_attrs(error)) == error


def test_row_error_one_ulp_above_the_tolerance_fails():
    with pytest.raises(ConservationError) as info:
        check_row_conservation(row_attrs(np.nextafter(CONSERVATION_RTOL, 1.0)))
    assert str(info.value) == row_failure("1e-06")


def test_row_error_just_over_names_the_row_and_the_fix():
    with pytest.raises(ConservationError) as info:
        check_row_conservation(row_attrs(1.01e-6, row="('XL-A', 'ore')"))
    assert str(info.value) == row_failure("1.01e-06", row="('XL-A', 'ore')")


@pytest.mark.parametrize(("error", "shown"), [(np.nan, "nan"), (np.inf, "inf")])
def test_row_error_nan_or_inf_never_passes(error, shown):
    with pytest.raises(ConservationError) as info:
        check_row_conservation(row_attrs(error))
    assert str(info.value) == row_failure(shown)


def test_row_error_of_a_zero_output_row_fails():
    """A row with F > 0 and no output is attributed nothing: an error of exactly 1."""
    with pytest.raises(ConservationError, match=re.escape("is attributed 1 (relative)")):
        check_row_conservation(row_attrs(1.0))


def test_row_check_takes_the_caller_s_rtol():
    assert check_row_conservation(row_attrs(5e-4), rtol=1e-3) == 5e-4
    with pytest.raises(ConservationError, match=re.escape("is attributed 0.0005 (relative)")):
        check_row_conservation(row_attrs(5e-4))


def three_rows(F=(50.0, 20.0, 8.0), x=(100.0, 200.0, 40.0)) -> MRIO:
    """Rows (A, s), (B, s), (B, t); only F, x and the labels matter to row_conservation."""
    labels = [("A", "s"), ("B", "s"), ("B", "t")]
    rows = pd.MultiIndex.from_tuples(labels, names=["region", "sector"])
    cols = pd.MultiIndex.from_tuples([("A", "hh")], names=["region", "category"])
    x = np.asarray(x, dtype=float)
    return MRIO(Z=np.zeros((3, 3)), Y=x[:, None], x=x, F=np.asarray(F, dtype=float), F_Y=None,
                rows=rows, fd_columns=cols)  # fmt: skip


def checked_rows(mrio: MRIO, row_sums) -> float:
    """row_conservation's (error, row) as the attrs check_row_conservation reads."""
    error, worst = row_conservation(mrio, np.asarray(row_sums, dtype=float))
    return check_row_conservation(row_attrs(error, row=worst))


def test_rows_whose_solve_gives_back_x_conserve_exactly():
    table = three_rows()
    assert row_conservation(table, table.x)[0] == 0.0
    assert checked_rows(table, table.x) == 0.0


def test_one_row_just_over_one_in_a_million_is_named():
    table = three_rows()
    row_sums = table.x * [1.0, 1.0 + 1.01e-6, 1.0]  # (B, s) attributed 1.01e-6 too much
    error, worst = row_conservation(table, row_sums)
    assert error == pytest.approx(1.01e-6, rel=1e-9)
    assert worst == "('B', 's')"
    with pytest.raises(ConservationError) as info:
        checked_rows(table, row_sums)
    assert str(info.value) == row_failure("1.01e-06", row="('B', 's')")


def test_one_row_just_under_passes_and_is_returned():
    table = three_rows()
    row_sums = table.x * [1.0, 1.0, 1.0 - 0.99e-6]
    assert checked_rows(table, row_sums) == pytest.approx(0.99e-6, rel=1e-9)


def test_an_emitting_row_without_output_loses_all_its_emissions():
    """(B, t) emits 8 t but has x = 0: nothing is attributed to it, an error of 1."""
    table = three_rows(x=(100.0, 200.0, 0.0))
    error, worst = row_conservation(table, table.x)
    assert (error, worst) == (1.0, "('B', 't')")
    with pytest.raises(ConservationError) as info:
        checked_rows(table, table.x)
    assert str(info.value) == row_failure("1", row="('B', 't')")


def test_rows_with_zero_emissions_and_zero_output_conserve():
    table = three_rows(F=(50.0, 20.0, 0.0), x=(100.0, 200.0, 0.0))
    assert checked_rows(table, table.x) == 0.0


@pytest.mark.parametrize(("bad", "shown"), [(np.nan, "nan"), (np.inf, "nan")])
def test_a_non_finite_row_sum_is_nan_and_named(bad, shown):
    table = three_rows()
    row_sums = table.x.copy()
    row_sums[2] = bad
    error, worst = row_conservation(table, row_sums)
    assert np.isnan(error) and worst == "('B', 't')"
    with pytest.raises(ConservationError) as info:
        checked_rows(table, row_sums)
    assert str(info.value) == row_failure(shown, row="('B', 't')")


# ------------------------------------------------------------------ the write pass's terms
#: Codes 0 and 1 are producers; code 2 is a region without MRIO rows; -1 is outside.
REGION_INDEX = np.array([[0, 0, 1], [1, -1, 2]])
EMISSIONS = np.array(
    [
        [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],  # sector a
        [[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]],  # sector b
    ]
)
#: Mapped inventory per cell: producer cells only (11, 22, 33, 44 t; 110 t in all).
CELL_INVENTORY = np.array([[11.0, 22.0, 33.0], [44.0, 0.0, 0.0]])


def hand_tables(stray: float = 0.0, sector_gap: float = 0.0) -> WriteTables:
    """Consumer A (domestic) drives 1/4 of every producer tonne, B (foreign) 3/4.

    B's foreign footprint has one category holding all of it. ``stray`` gives
    the region without MRIO rows a share for A; ``sector_gap`` adds to region 1's
    sector-b foreign factor. Every number is exact in binary.
    """
    by_consumer = np.zeros((3, 2, 2))
    by_consumer[:2, :, 0], by_consumer[:2, :, 1] = 0.25, 0.75
    by_consumer[2, :, 0] = stray
    foreign = by_consumer[:, :, 1].copy()
    stored = np.stack([foreign, foreign], axis=2)  # one category, then the foreign total
    rest = by_consumer.sum(axis=2) - foreign  # before the gap: only the sector cube is off
    foreign[1, 1] += sector_gap
    return WriteTables(
        stored=stored,
        by_consumer=by_consumer,
        foreign=foreign,
        rest=rest,
        producer=np.array([True, True, False]),
        foreign_column=1,
        category_columns=slice(0, 1),
    )


def computed_terms(tables: WriteTables, emissions=EMISSIONS) -> dict:
    layers, lazy = write_layers(
        da.from_array(emissions, chunks=(1, 1, 2)),
        da.from_array(REGION_INDEX, chunks=(1, 2)),
        tables,
    )
    assert dask.is_dask_collection(lazy)
    (terms,) = dask.compute(lazy, scheduler="sync")
    return terms_as_results(terms)


HAND_ATTRIBUTION = attribution([27.5, 82.5])  # A: 110 / 4, B: 110 * 3 / 4


def test_terms_of_conserving_tables_are_exact():
    results = computed_terms(hand_tables())
    assert float(results["inventory_total"]) == 110.0
    np.testing.assert_array_equal(results["consumer_cell_totals"], [27.5, 82.5])
    for name in (
        "cell_max_abs_error",
        "cell_max_rel_error",
        "foreign_by_sector_error",
        "foreign_by_category_error",
    ):
        assert float(results[name]) == 0.0, name
    assert check_conservation(results, HAND_ATTRIBUTION) == 0.0


def test_a_kernel_fault_that_totals_hide_fails(monkeypatch):
    """1.2e-5 t of A moves from the 11 t cell to the 22 t cell: totals unchanged."""
    original = write_pass.apply_region_tables

    def moving(e, idx, tables, **kwargs):
        out = original(e, idx, tables, **kwargs)
        consumer_call = tables[0, 0, 0] == 0.25  # not the stored stack (0.75 first)
        if consumer_call and idx.shape == (1, 2) and (idx == 0).all():
            out[0, 0, 0] -= 1.2e-5
            out[0, 0, 1] += 1.2e-5
        return out

    monkeypatch.setattr(write_pass, "apply_region_tables", moving)
    results = computed_terms(hand_tables())
    assert float(results["cell_max_abs_error"]) == pytest.approx(1.2e-5, rel=1e-9)
    assert float(results["cell_max_rel_error"]) == pytest.approx(1.2e-5 / 11, rel=1e-9)
    np.testing.assert_allclose(results["consumer_cell_totals"], [27.5, 82.5], rtol=1e-15)
    with pytest.raises(ConservationError) as info:
        check_conservation(results, HAND_ATTRIBUTION)
    assert str(info.value) == failure("per-cell consumers vs inventory", "1.09e-06")


def test_footprint_on_a_cell_without_a_producer_fails():
    """1 kg per t of A on the region without MRIO rows (its 60 t do not count)."""
    results = computed_terms(hand_tables(stray=1e-3 / 66))
    assert float(results["inventory_total"]) == 110.0
    assert float(results["cell_max_rel_error"]) == pytest.approx(1e297, rel=1e-12)
    with pytest.raises(ConservationError) as info:
        check_conservation(results, HAND_ATTRIBUTION)
    assert str(info.value) == failure("per-cell consumers vs inventory", "1e+297")


def test_a_nan_cell_makes_every_term_it_touches_nan_and_fails():
    broken = EMISSIONS.copy()
    broken[0, 0, 2] = np.nan
    results = computed_terms(hand_tables(), broken)
    assert np.isnan(float(results["cell_max_rel_error"]))
    assert np.isnan(results["consumer_cell_totals"]).all()
    with pytest.raises(ConservationError) as info:
        check_conservation(results, HAND_ATTRIBUTION)
    assert str(info.value) == failure("per-cell consumers vs inventory", "nan")


def test_a_sector_cube_off_by_just_over_one_in_a_million_fails():
    gap = 1.2e-4 / 40  # 1.2e-4 t on the 40 t of sector b at cell (1, 0): 1.09e-6 of 110 t
    results = computed_terms(hand_tables(sector_gap=gap))
    assert float(results["foreign_by_sector_error"]) == pytest.approx(1.2e-4, rel=1e-9)
    with pytest.raises(ConservationError) as info:
        check_conservation(results, HAND_ATTRIBUTION)
    assert str(info.value) == failure("sector cube vs foreign total", "1.09e-06")
