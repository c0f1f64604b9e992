"""Conservation check, home-only foreign tables and the zero-output concordance check."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pipeline.attribution.conservation import check_conservation
from pipeline.attribution.region_tables import home_producers
from pipeline.errors import ConservationError
from pipeline.kernels.tables import split_outputs


def _attribution(values):
    return xr.DataArray(
        np.asarray(values, dtype=float).reshape(1, 1, -1, 1),
        dims=("region", "sector", "consumer", "category"),
    )


def _terms(inventory, consumer_totals, cell=0.0):
    return {
        "inventory_total": inventory,
        "cell_max_rel_error": cell,
        "consumer_cell_totals": np.asarray(consumer_totals, dtype=float),
        "foreign_by_sector_error": 0.0,
        "foreign_by_category_error": 0.0,
    }


def test_all_zero_inventory_conserves():
    assert check_conservation(_terms(0.0, [0.0, 0.0]), _attribution([0.0, 0.0])) == 0.0


def test_a_gap_fails_and_nan_never_passes():
    with pytest.raises(ConservationError, match="attribution vs inventory"):
        check_conservation(_terms(10.0, [4.0, 5.0]), _attribution([4.0, 5.0]))
    with pytest.raises(ConservationError, match="per-cell"):
        check_conservation(_terms(9.0, [4.0, 5.0], cell=np.nan), _attribution([4.0, 5.0]))


def test_foreign_tables_cover_home_producers_only():
    # producers: home province P, abroad region USA; consumers P (domestic), USA (foreign)
    m = np.zeros((2, 1, 2, 1))
    m[0, 0] = [[0.6], [0.4]]  # P's emissions: 40 % for US demand
    m[1, 0] = [[0.1], [0.9]]  # US emissions: 90 % for US demand, which is not "foreign-driven"
    foreign = np.array([False, True])
    shares = xr.DataArray(m, dims=("region", "mrio_sector", "consumer", "category"),
                          coords={"region": ["P", "USA"], "consumer": ["P", "USA"]})  # fmt: skip
    home = home_producers(shares, foreign)
    assert home.tolist() == [True, False]
    split = split_outputs(m, foreign, home)
    np.testing.assert_allclose(split["foreign"][:, 0], [0.4, 0.0])
    np.testing.assert_allclose(split["by_consumer"][1, 0], [0.1, 0.9])  # consumers untouched
    np.testing.assert_allclose(split_outputs(m, foreign)["foreign"][:, 0], [0.4, 0.9])
