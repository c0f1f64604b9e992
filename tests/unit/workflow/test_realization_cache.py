"""The work cache of finished Monte Carlo realizations: content keys, atomic files, reuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from pipeline.attribution.ensemble import Realization
from pipeline.workflow.realization_cache import RealizationCache, cache_key


def _labelled(labels):
    return xr.DataArray(np.arange(3.0), dims="region", coords={"region": labels})


def test_key_counts_contents_not_objects():
    text = ["CN-BJ", "CN-TJ", "USA"]
    same = [
        _labelled(np.array(text, dtype=object)),
        _labelled(np.array(text, dtype=np.dtypes.StringDType())),
        _labelled(np.array(text)),
    ]
    assert len({cache_key(a) for a in same}) == 1
    changed = _labelled(np.array(["CN-BJ", "CN-TJ", "JPN"]))
    assert cache_key(changed) != cache_key(same[0])
    dense = np.array([[0.0, 2.0], [1.0, 0.0]])
    assert cache_key(sp.csr_array(dense)) == cache_key(sp.csc_matrix(dense))
    assert cache_key(sp.csr_array(dense)) != cache_key(sp.csr_array(dense * 1.0000001))
    index = pd.MultiIndex.from_tuples([("A", "x"), ("B", "y")])
    assert cache_key({"b": 1, "a": index}) == cache_key({"a": index.copy(), "b": 1})
    assert cache_key(np.zeros(2, np.float32)) != cache_key(np.zeros(2, np.float64))
    assert cache_key([1, 2]) != cache_key([[1, 2]])


def _realization(index):
    rng = np.random.default_rng(index)
    return Realization(index, rng.random((2, 3, 4, 2)), index % 2, 1e-15 * index, rng.random(4))


def test_saved_realizations_load_back_exactly_and_other_keys_go(tmp_path):
    folder = tmp_path / "realizations"
    old = RealizationCache(folder, "old")
    old.save(_realization(0))
    cache = RealizationCache(folder, "new")
    assert not (folder / "old").exists()  # another key's realizations are removed
    for index in (0, 2, 5):
        cache.save(_realization(index))
    (cache.folder / "3.npz").write_bytes(b"not an npz: an interrupted write of an old version")
    found = RealizationCache(folder, "new").load(4)
    assert sorted(found) == [0, 2]  # 3 is unreadable, 5 is beyond n
    for index, realization in found.items():
        expected = _realization(index)
        np.testing.assert_array_equal(realization.tables, expected.tables)
        np.testing.assert_array_equal(realization.mrio_footprint, expected.mrio_footprint)
        assert (realization.redraws, realization.row_error) == (
            expected.redraws,
            expected.row_error,
        )
    assert [p.name for p in cache.folder.iterdir() if p.name.startswith(".")] == []
