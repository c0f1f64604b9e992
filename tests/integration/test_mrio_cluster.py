"""The MRIO dask engine on a real LocalCluster equals the numpy path (pymrio's test system).

Moved from ``tests/unit/mrio/test_mrio.py``, which keeps the numpy-only MRIO tests.
"""

import numpy as np
import pymrio
import pytest

from pipeline.mrio import attribute, from_pymrio, solve_final_demand

STRESSOR = ("emission_type1", "air")


@pytest.fixture(scope="module")
def test_mrio():
    return from_pymrio(pymrio.load_test(), stressor=STRESSOR)


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.mark.parametrize("block_columns", [1, 5, 7, None])
def test_dask_cluster_equals_numpy(cluster_client, test_mrio, block_columns):
    keep = test_mrio.region_rows(["reg2", "reg5"])
    want = solve_final_demand(test_mrio, rows=keep)
    got = solve_final_demand(
        test_mrio, rows=keep, client=cluster_client, block_columns=block_columns
    )
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_dask_cluster_attribute(cluster_client, test_mrio):
    a = attribute(test_mrio, client=cluster_client, regions="reg1")
    b = attribute(test_mrio, regions="reg1")
    np.testing.assert_allclose(a.values, b.values, rtol=1e-13)
