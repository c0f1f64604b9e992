"""Atomic, versioned stores: a failed write leaves the previous version; readers keep theirs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import ConservationError
from pipeline.store import (
    VERSIONS,
    is_complete,
    resolve_store,
    stage_key,
    stored_key,
    write_text_atomic,
    write_zarr_atomic,
)


def dataset(value: float) -> xr.Dataset:
    return xr.Dataset({"a": (("y", "x"), np.full((4, 5), value))}).chunk({"y": 2})


def write(path, value, *, key="k", check=None):
    return write_zarr_atomic(dataset(value), path, key=key, versioned=True, check=check)


def test_versions_swap_and_keep_one_previous(tmp_path):
    store = tmp_path / "footprint.zarr"
    write(store, 1.0)
    first = resolve_store(store)
    assert store.is_symlink() and is_complete(store) and stored_key(store) == "k"
    write(store, 2.0, key="k2")
    second = resolve_store(store)
    assert second != first and first.exists()
    assert float(xr.open_zarr(store)["a"].max()) == 2.0 and stored_key(store) == "k2"
    write(store, 3.0)
    assert not first.exists() and second.exists()
    assert len(list((tmp_path / VERSIONS).glob("footprint-*.zarr"))) == 2


def test_reader_of_the_previous_version_is_not_mixed(tmp_path):
    store = tmp_path / "footprint.zarr"
    write(store, 1.0)
    reader = xr.open_zarr(resolve_store(store))  # what pipeline.open_results does
    write(store, 2.0)
    np.testing.assert_array_equal(reader["a"].values, 1.0)
    np.testing.assert_array_equal(xr.open_zarr(store)["a"].values, 2.0)


def test_failed_check_leaves_the_previous_store_and_no_temporaries(tmp_path):
    store = tmp_path / "footprint.zarr"
    write(store, 1.0)

    def fail(_):
        raise ConservationError("conservation failed: test")

    with pytest.raises(ConservationError):
        write(store, 2.0, check=fail)
    assert is_complete(store)
    np.testing.assert_array_equal(xr.open_zarr(store)["a"].values, 1.0)
    assert not list((tmp_path / VERSIONS).glob(".*partial*"))


def test_first_write_failing_leaves_nothing(tmp_path):
    store = tmp_path / "footprint.zarr"
    with pytest.raises(ZeroDivisionError):
        write(store, 1.0, check=lambda _: 1 / 0)
    assert not store.exists() and not is_complete(store)


def test_unversioned_store_and_text_are_replaced_whole(tmp_path):
    store = tmp_path / "inventory.zarr"
    write_zarr_atomic(dataset(1.0), store, key="a")
    write_zarr_atomic(dataset(5.0), store, key="b")
    assert not store.is_symlink() and stored_key(store) == "b"
    assert float(xr.open_zarr(store)["a"].min()) == 5.0
    text = write_text_atomic(tmp_path / "summary.json", "{}")
    assert text.read_text() == "{}" and not list(tmp_path.glob(".summary.json.partial-*"))


def test_stage_key_depends_on_every_part():
    base = stage_key(stage="ingest", inputs={"a": "sha256:1"}, config={"x": 1})
    assert base == stage_key(config={"x": 1}, inputs={"a": "sha256:1"}, stage="ingest")
    assert base != stage_key(stage="ingest", inputs={"a": "sha256:2"}, config={"x": 1})
    assert base != stage_key(stage="ingest", inputs={"a": "sha256:1"}, config={"x": 2})


def test_resume_key_ignores_maps_and_input_location(tmp_path):
    from demo_inputs import demo_config

    from pipeline.run import _Plan

    class Layers:
        class emissions:  # noqa: N801 - stands in for the lazy inventory
            class data:  # noqa: N801
                chunksize = (7, 64, 64)

    def key(**overrides):
        config = demo_config(tmp_path, **overrides)
        plan = _Plan(config, tmp_path, {"a": "sha256:1"}, Layers, resume=True, echo=print)
        return plan.key("footprint", inputs=("",), sections=("study", "output", "inventory"))

    assert key(output__maps=False) == key(output__maps=True)
    assert key(study__inputs="elsewhere") == key()
    assert key(output__dtype="float32") != key()
    assert key(inventory__units="kt") != key()
