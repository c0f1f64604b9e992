"""The Monte Carlo chunk kernel against whole layers reduced with numpy, in strips or not."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.kernels import ensemble_pass
from pipeline.kernels.cells import apply_region_tables
from pipeline.kernels.ensemble_pass import ensemble_chunk

LEVELS = np.array([0.05, 0.5, 0.95])


def _case(seed=3):
    rng = np.random.default_rng(seed)
    emissions = rng.gamma(1.0, 5.0, (2, 9, 7))
    index = rng.integers(-1, 3, (9, 7))
    tables = rng.uniform(0, 1, (11, 3, 2, 4))
    return emissions, index, tables


def _oracle(emissions, index, tables):
    layers = np.stack([apply_region_tables(emissions, index, t) for t in tables])
    return np.concatenate([np.quantile(layers, LEVELS, axis=0), layers.mean(axis=0)[None]])


@pytest.mark.parametrize("strip_values", [1 << 22, 11 * 4 * 7, 1])
def test_quantiles_and_mean_match_the_whole_layers(monkeypatch, strip_values):
    monkeypatch.setattr(ensemble_pass, "STRIP_VALUES", strip_values)
    emissions, index, tables = _case()
    out = ensemble_chunk(emissions, index, tables, LEVELS)
    assert out.shape == (4, 4, 9, 7)
    np.testing.assert_allclose(out, _oracle(emissions, index, tables), rtol=1e-13, atol=0)
    assert (out[:, :, index < 0] == 0).all()
    assert (np.diff(out[:3], axis=0) >= 0).all()


def test_a_hand_cell_and_equal_realizations():
    emissions = np.array([[[2.0]], [[3.0]]])
    index = np.array([[0]])
    tables = np.array([[[[1.0], [0.0]]], [[[0.0], [1.0]]], [[[1.0], [1.0]]]])  # 2, 3, 5 t
    out = ensemble_chunk(emissions, index, tables, np.array([0.0, 0.5, 1.0]))
    assert out[:, 0, 0, 0].tolist() == [2.0, 3.0, 5.0, 10.0 / 3.0]
    same = np.repeat(tables[:1], 4, axis=0)
    out = ensemble_chunk(emissions, index, same, LEVELS)
    assert (out[:, 0, 0, 0] == 2.0).all()


def test_split_chunks_give_the_same_cells():
    emissions, index, tables = _case(5)
    whole = ensemble_chunk(emissions, index, tables, LEVELS)
    top = ensemble_chunk(emissions[:, :4], index[:4], tables, LEVELS)
    bottom = ensemble_chunk(emissions[:, 4:, 2:], index[4:, 2:], tables, LEVELS)
    np.testing.assert_allclose(whole[:, :, :4], top, rtol=1e-14, atol=0)
    np.testing.assert_allclose(whole[:, :, 4:, 2:], bottom, rtol=1e-14, atol=0)


def test_hotspot_count_by_hand():
    """One sector, four cells of 1, 4, 2, 3 t in two regions; each realization scales the
    regions. Its 75 % hotspot cells, by hand, are given as threshold and last tie taken."""
    emissions = np.array([[[1.0, 4.0, 2.0, 3.0]]])
    index = np.array([[0, 0, 1, 1]])
    land = np.array([[True, True, True, True]])
    tables = np.array(
        [
            [[[1.0]], [[1.0]]],  # 1 4 2 3: 75 % of 10 needs 4 + 3 + 2: cells 1, 3, 2
            [[[3.0]], [[1.0]]],  # 3 12 2 3: 75 % of 20 needs 12 + 3 (tie, first in row order)
            [[[1.0]], [[0.0]]],  # 1 4 0 0: 75 % of 5 needs 4 alone (0.8)
        ]
    )
    thresholds = np.array([2.0, 3.0, 4.0])
    last_ties = np.array([-1, 0, -1])  # realization 1 takes the tied 3 of cell 0 only
    flat = np.arange(4).reshape(1, 4)
    count = ensemble_pass.hotspot_count(emissions, index, land, tables, thresholds, last_ties, flat)
    assert count.dtype == np.uint16
    assert count.tolist() == [[1, 3, 1, 1]]
    sea = np.array([[True, True, False, True]])
    count = ensemble_pass.hotspot_count(emissions, index, sea, tables, thresholds, last_ties, flat)
    assert count.tolist() == [[1, 3, 0, 1]]
    none = np.full(3, np.inf)
    assert not ensemble_pass.hotspot_count(
        emissions, index, land, tables, none, last_ties, flat
    ).any()
