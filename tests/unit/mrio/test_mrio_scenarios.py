"""Final-demand scenarios of an MRIO: changed columns, diversion, their solve (dense oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.study_tables import random_plain_table

from pipeline.errors import ConfigError
from pipeline.mrio.engine import FactoredTable, attribution_shares
from pipeline.mrio.model import MRIO
from pipeline.mrio.scenarios import (
    DemandShock,
    balance_error,
    delta_shares,
    final_demand_change,
    solve_changes,
)

REGIONS = ["AAA", "BBB", "CCC", "DDD"]
SECTORS = ["s1", "s2", "s3"]
CATEGORIES = ["hh", "gov"]


@pytest.fixture(scope="module")
def table() -> MRIO:
    plain = random_plain_table(REGIONS, SECTORS, CATEGORIES, seed=11)
    return MRIO(
        plain.Z.to_numpy(), plain.Y.to_numpy(), plain.x, plain.F.loc["CO2"].to_numpy(), None,
        plain.rows, plain.Y.columns,
    )  # fmt: skip


def dense_inverse(table: MRIO) -> np.ndarray:
    a = table.Z / table.x[None, :]
    return np.linalg.inv(np.eye(table.n) - a)


def shock(factor, **kw):
    base = dict(consumers=("AAA",), origins=("BBB",), categories=tuple(CATEGORIES))
    return DemandShock(factor=factor, **{**base, **kw})


def test_factor_one_changes_no_column(table):
    assert final_demand_change(table, [shock(1.0)]).columns.size == 0
    assert final_demand_change(table, [shock(1.0, divert_to=("CCC",))]).columns.size == 0


def test_factors_scale_exactly_the_shocked_entries(table):
    zero, half = (final_demand_change(table, [shock(f)]) for f in (0.0, 0.5))
    np.testing.assert_array_equal(zero.columns, [0, 1])
    rows = np.asarray(table.rows.get_level_values(0) == "BBB")
    np.testing.assert_array_equal(zero.delta[rows], -table.Y[rows][:, :2])
    np.testing.assert_array_equal(half.delta, zero.delta / 2)
    assert np.all(zero.delta[~rows] == 0)


def test_diversion_keeps_each_columns_total_in_proportion_to_purchases(table):
    change = final_demand_change(table, [shock(0.6, divert_to=("CCC", "DDD"))])
    y = table.Y[:, change.columns]
    assert np.abs(change.delta.sum(axis=0)).max() <= 1e-12 * np.abs(y.sum(axis=0)).max()
    region = np.asarray(table.rows.get_level_values(0))
    for s in range(len(SECTORS)):
        taken = 0.4 * table.Y[REGIONS.index("BBB") * 3 + s, :2]
        to = [REGIONS.index(r) * 3 + s for r in ("CCC", "DDD")]
        bought = np.maximum(table.Y[to, :2], 0)
        np.testing.assert_allclose(change.delta[to], bought / bought.sum(0) * taken, rtol=1e-12)
    assert np.all(change.delta[region == "AAA"] == 0)


def test_a_shock_on_nothing_and_an_impossible_diversion_are_refused(table):
    empty = table.Y.copy()
    empty[np.asarray(table.rows.get_level_values(0) == "BBB")] = 0.0
    bare = MRIO(table.Z, empty, table.x, table.F, None, table.rows, table.fd_columns)
    with pytest.raises(ConfigError, match=r"buy nothing from \['BBB'\]"):
        final_demand_change(bare, [shock(0.5)])
    with pytest.raises(ConfigError, match="negative"):
        final_demand_change(table, [shock(1000.0, divert_to=("CCC",))])


def test_the_changed_columns_solve_like_a_dense_inverse(table):
    changes = [final_demand_change(table, [shock(0.5)]), final_demand_change(table, [shock(1.0)])]
    changes.append(
        final_demand_change(table, [shock(1.3, consumers=("DDD",), divert_to=("AAA", "CCC"))])
    )
    factored = FactoredTable(table, "lu")
    attribution_shares(table, factored=factored)
    solved = solve_changes(factored, changes)
    assert factored.factorizations == 1  # the attribution's factor, reused
    inverse = dense_inverse(table)
    for change, dx in zip(changes, solved, strict=True):
        assert dx.shape == (table.n, change.columns.size)
        if change.columns.size:
            np.testing.assert_allclose(dx, inverse @ change.delta, rtol=1e-10, atol=1e-9)
            assert balance_error(table, change, dx)[0] < 1e-12
            wrong, row = balance_error(table, change, dx * 1.01)
            assert wrong > 1e-6 and row.startswith("(")


def test_delta_shares_layout(table):
    change = final_demand_change(table, [shock(0.5)])
    (dx,) = solve_changes(FactoredTable(table, "lu"), [change])
    labels = (["CCC", "ZZZ", "AAA"], ["s2", "s1"], ["DDD", "AAA"], CATEGORIES)
    out = delta_shares(table, change, dx, labels)
    assert out.shape == (3, 2, 2, 2)
    row = REGIONS.index("CCC") * 3 + 1  # (CCC, s2)
    np.testing.assert_allclose(out[0, 0, 1], dx[row] / table.x[row], rtol=1e-15)
    assert np.all(out[1] == 0) and np.all(out[:, :, 0] == 0)
