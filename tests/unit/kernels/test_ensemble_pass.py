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
