"""The real ``dask scheduler`` + two ``dask worker`` processes of the cluster tests."""

import pytest
from helpers.processes import DaskCluster


@pytest.fixture
def dask_cluster(tmp_path_factory):
    started = DaskCluster(tmp_path_factory.mktemp("dask-logs"))
    try:
        started.wait_ready(2, timeout=60)
        yield started
    finally:
        started.close()
