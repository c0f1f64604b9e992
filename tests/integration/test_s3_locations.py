"""Locations on the tests' real S3 server: an icechunk repository written and read back."""

from __future__ import annotations

import os

import icechunk
import numpy as np
import zarr

from pipeline.storage.locations import parse_location, storage_options


def test_s3_location_from_the_environment_writes_and_reads_an_icechunk_repository(s3_bucket):
    options = storage_options({"max_tries": 6}, env=os.environ)  # AWS_* from the fixture
    loc = parse_location(f"s3://{s3_bucket}/studies/a", options)
    repo = icechunk.Repository.create(loc.icechunk_storage(), config=loc.repository_config())
    assert repo.config.storage.retries.max_tries == 6
    session = repo.writable_session("main")
    group = zarr.group(session.store)
    array = group.create_array("x", shape=(6,), chunks=(2,), dtype="f8")
    array[:] = np.arange(6) * 1.5
    snapshot = session.commit("first")

    again = parse_location(f"s3://{s3_bucket}/studies/a")
    reopened = icechunk.Repository.open(again.icechunk_storage())
    read = zarr.open_group(reopened.readonly_session(snapshot_id=snapshot).store, mode="r")
    np.testing.assert_array_equal(read["x"][:], [0.0, 1.5, 3.0, 4.5, 6.0, 7.5])
    messages = [s.message for s in reopened.ancestry(branch="main")]
    assert messages == ["first", "Repository initialized"]
    # another prefix of the same bucket is another, empty place
    other = parse_location(f"s3://{s3_bucket}/studies/b")
    assert not icechunk.Repository.exists(other.icechunk_storage())
