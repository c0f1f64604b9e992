"""Test helper: an MRIO's attribution against pymrio's own ``calc_all`` accounts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymrio

from pipeline.mrio import MRIO, attribute


def pymrio_accounts(io: pymrio.IOSystem, ext: str, stressor) -> tuple[pd.Series, pd.Series]:
    """Per-consumer-region D_cba and per-row D_pba from pymrio's own calc_all."""
    io = io.copy()
    io.calc_all()
    e = getattr(io, ext)
    return e.D_cba.loc[stressor].groupby(level="region").sum(), e.D_pba.loc[stressor]


def assert_matches_pymrio(m: MRIO, io: pymrio.IOSystem, ext: str, stressor) -> None:
    cba, pba = pymrio_accounts(io, ext, stressor)
    E = attribute(m)
    got = E.sum(("region", "sector", "category")).to_series().reindex(cba.index)
    np.testing.assert_allclose(got.to_numpy(), cba.to_numpy(), rtol=1e-9)
    got = E.sum(("consumer", "category")).to_series()
    idx = pd.MultiIndex.from_tuples([tuple(map(str, t)) for t in pba.index])
    np.testing.assert_allclose(got.reindex(idx).to_numpy(), pba.to_numpy(), rtol=1e-9)
