"""The write kernel with a scenario's tables: cells checked against the scenario's inventory."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers.write_tables import grid, tables

from pipeline.kernels.write_pass import write_chunk


def scaled(t, factor: np.ndarray, *, lose: float = 0.0):
    """``t`` with every row scaled by ``factor[code, sector]``; the check expects ``factor``."""
    by_consumer = t.by_consumer * factor[:, :, None]
    return dataclasses.replace(
        t,
        by_consumer=by_consumer * (1 - lose),
        inventory=by_consumer.sum(axis=2),
        gross=np.abs(by_consumer).sum(axis=2),
    )


def test_scaled_rows_conserve_against_the_scenario_inventory():
    e, idx = grid()
    factor = np.random.default_rng(5).uniform(0.2, 1.8, (4, 3))
    _, terms = write_chunk(e, idx, scaled(tables(), factor), np.dtype("float64"))
    assert terms[1] < 1e-14
    inside = np.isin(idx, [0, 1, 3])
    expected = (e * np.moveaxis(factor[np.where(idx < 0, 0, idx)], -1, 0)).sum(0)[inside].sum()
    assert terms[2] == pytest.approx(expected, rel=1e-13)
    # the same tables checked against the baseline inventory fail by their scaling
    _, unscaled = write_chunk(
        e,
        idx,
        dataclasses.replace(tables(), by_consumer=scaled(tables(), factor).by_consumer),
        np.dtype("float64"),
    )
    assert unscaled[1] > 0.1


def test_a_scenario_table_that_loses_one_percent_fails_every_cell():
    e, idx = grid()
    factor = np.full((4, 3), 0.5)
    _, terms = write_chunk(e, idx, scaled(tables(), factor, lose=0.01), np.dtype("float64"))
    assert terms[1] == pytest.approx(0.01, rel=1e-9)
