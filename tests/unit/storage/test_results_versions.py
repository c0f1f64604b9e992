"""open_results reads its version through storage.open_version: an error, never NaN."""

import numpy as np
import pytest
import xarray as xr

from pipeline import open_results
from pipeline.errors import InputFileError
from pipeline.storage.versions import new_version, write_zarr_atomic


def publish(out, value: float) -> None:
    """One result version holding a (y, x) layer ``a`` of ``value``."""
    with new_version(out) as version:
        layer = xr.Dataset({"a": (("y", "x"), np.full((4, 5), value))}).chunk({"y": 2})
        write_zarr_atomic(layer, version / "footprint.zarr", key="k")


def test_results_of_a_deleted_version_error_instead_of_nan(tmp_path):
    publish(tmp_path, 1.0)
    results = open_results(tmp_path)
    publish(tmp_path, 2.0)
    np.testing.assert_array_equal(results.ds["a"].values, 1.0)  # the previous version is kept
    publish(tmp_path, 3.0)  # ... until the one after
    with pytest.raises(InputFileError, match="deleted by a later run"):
        results.ds["a"].load()
    np.testing.assert_array_equal(open_results(tmp_path).ds["a"].values, 3.0)


def test_open_results_reads_the_repository_when_the_checkout_is_behind(tmp_path):
    from pipeline.storage import repository
    from pipeline.storage.locations import parse_location

    publish(tmp_path, 1.0)
    repo = repository.open_repository(parse_location(tmp_path / "footprint"))
    first = repository.history(repo)[0]["id"]
    staged = tmp_path / "staged"  # a run killed after its commit, before the link swap
    staged.mkdir()
    layer = xr.Dataset({"a": (("y", "x"), np.full((4, 5), 2.0))}).chunk({"y": 2})
    write_zarr_atomic(layer, staged / "footprint.zarr", key="k")
    repository.commit_version(repo, staged, message="killed before the swap")

    np.testing.assert_array_equal(open_results(tmp_path).ds["a"].values, 2.0)
    np.testing.assert_array_equal(open_results(tmp_path, snapshot=first).ds["a"].values, 1.0)
    publish(tmp_path, 3.0)  # the next run's checkout is the tip again
    np.testing.assert_array_equal(open_results(tmp_path).ds["a"].values, 3.0)
    assert open_results(tmp_path).directory == tmp_path
