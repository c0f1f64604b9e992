"""Small hand-made write tables (tests of the fused write pass)."""

from __future__ import annotations

import numpy as np

from pipeline.kernels.write_pass import WriteTables

S, CODES, N, K = 3, 4, 5, 2


def tables(seed=0, *, conserving=True):
    rng = np.random.default_rng(seed)
    by_consumer = rng.random((CODES, S, N))
    by_consumer /= by_consumer.sum(axis=2, keepdims=True)
    by_consumer[2] = 0.0  # code 2 has no MRIO rows
    foreign_share = by_consumer[:, :, 2:].sum(axis=2)  # consumers 2.. are foreign
    by_category = np.stack([foreign_share * 0.3, foreign_share * 0.7], axis=2)
    if not conserving:
        by_consumer = by_consumer * 1.01
    stored = np.concatenate([by_category, foreign_share[:, :, None]], axis=2)
    return WriteTables(
        stored=stored,
        by_consumer=by_consumer,
        foreign=foreign_share,
        producer=np.array([True, True, False, True]),
        foreign_column=K,
        category_columns=slice(0, K),
    )


def grid(seed=1, shape=(9, 13)):
    rng = np.random.default_rng(seed)
    return rng.gamma(0.5, 10.0, (S, *shape)), rng.integers(-1, CODES, shape)
