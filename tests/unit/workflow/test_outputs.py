"""``--out`` as a local directory or an object-storage URL: where the run works and commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import OutputError
from pipeline.storage import repository
from pipeline.storage.locations import parse_location
from pipeline.workflow.outputs import prepare_repository, run_output, work_directory


def test_a_local_out_is_its_own_working_directory_and_holds_the_repository(tmp_path):
    output = run_output(tmp_path / "out", env={})
    assert output.local == tmp_path / "out"
    assert output.repository.path == str(tmp_path / "out" / "footprint")
    assert output.repository.is_local


def test_an_s3_out_works_in_a_directory_keyed_by_its_url(tmp_path):
    env = {"FOOTPRINT_MAP_WORK_DIR": str(tmp_path / "w")}
    output = run_output("s3://my-bucket/studies/china", env=env)
    assert output.local == tmp_path / "w" / "s3" / "my-bucket" / "studies" / "china"
    assert output.repository.url == "s3://my-bucket/studies/china/footprint"
    other = run_output("s3://my-bucket/studies/india", env=env)
    assert other.local != output.local
    cache = work_directory(parse_location("gs://b-1/x", env={}), {"XDG_CACHE_HOME": "/c"})
    assert cache == Path("/c/footprint-map/gs/b-1/x")


def test_prepare_repository_creates_it_and_refuses_a_taken_or_bad_tag(tmp_path):
    output = run_output(tmp_path / "out", env={})
    prepare_repository(output, "v1")
    repo = repository.open_repository(output.repository)
    repo.create_tag("v1", snapshot_id=repo.lookup_branch("main"))
    with pytest.raises(OutputError, match="already has this tag"):
        prepare_repository(output, "v1")
    with pytest.raises(OutputError, match="--tag 'a/b'"):
        prepare_repository(output, "a/b")
    prepare_repository(output, "v2")  # a free tag passes; nothing is tagged before the commit
    assert sorted(repo.list_tags()) == ["v1"]
