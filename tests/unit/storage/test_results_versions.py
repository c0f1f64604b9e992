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
