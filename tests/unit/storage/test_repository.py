"""The result repository: a finished result directory committed as one icechunk snapshot."""

from __future__ import annotations

import hashlib
import json

import dask
import numpy as np
import pytest
import xarray as xr
import zarr
from helpers.small_store import CRSES, write_small_store

from pipeline.errors import InputFileError, OutputError
from pipeline.storage import repository as rep
from pipeline.storage.locations import parse_location
from pipeline.storage.versions import open_version, write_text_atomic


def _version(root, value: float, *, scenario: bool = True):
    """A finished result directory: the small store, a summary, a map, one scenario."""
    root.mkdir(parents=True)
    write_small_store(root / "footprint.zarr", *CRSES["projected"])
    write_text_atomic(root / "summary.json", json.dumps({"foreign_total_t": value}))
    (root / "maps").mkdir()
    (root / "maps" / "foreign.png").write_bytes(b"\x89PNG fake " + bytes([int(value)]))
    if scenario:
        folder = root / "scenarios" / "tariff"
        folder.mkdir(parents=True)
        write_small_store(folder / "footprint.zarr", *CRSES["geographic"])
        write_text_atomic(folder / "summary.json", json.dumps({"foreign_total_t": value / 2}))
    return root


@pytest.fixture
def repo(tmp_path):
    return rep.open_repository(parse_location(tmp_path / "out" / "footprint"), create=True)


def test_a_committed_result_reads_back_byte_for_byte_with_its_summary(tmp_path, repo):
    version = _version(tmp_path / "v1", 7.0)
    attrs = xr.open_zarr(version / "footprint.zarr").attrs
    message, metadata = rep.commit_message(dict(attrs))
    snapshot = rep.commit_version(repo, version, message=message, metadata=metadata)

    session = rep.checkout(repo)
    assert session.snapshot_id == snapshot
    ds, summary = rep.open_group(session)
    expected = open_version(version / "footprint.zarr")
    assert summary == {"foreign_total_t": 7.0}
    assert set(ds.data_vars) == set(expected.data_vars)
    for name in expected.data_vars:
        np.testing.assert_array_equal(ds[name].values, expected[name].values)
    assert ds.attrs["footprint_map_complete"] == 1
    scenario, scenario_summary = rep.open_group(session, "scenarios/tariff")
    assert scenario_summary == {"foreign_total_t": 3.5}
    assert float(scenario["foreign_footprint"].sum()) == pytest.approx(
        float(open_version(version / "scenarios/tariff/footprint.zarr")["foreign_footprint"].sum())
    )
    assert rep.scenario_names(session) == ["tariff"]
    png = zarr.open_group(session.store, mode="r")["maps/foreign"]
    assert bytes(png[:]) == b"\x89PNG fake \x07" and png.attrs["filename"] == "foreign.png"


def test_commit_message_names_the_config_hash_and_input_checksums():
    attrs = {
        "config": "[study]\n",
        "input_checksums": json.dumps({"b": "sha256:2", "a": "sha256:1"}),
    }
    message, metadata = rep.commit_message(attrs)
    digest = hashlib.sha256(b"[study]\n").hexdigest()
    assert message == f"footprint-map result: config sha256:{digest}; inputs a=sha256:1 b=sha256:2"
    assert metadata["input_checksums"] == {"a": "sha256:1", "b": "sha256:2"}


def test_history_lists_runs_newest_first_and_earlier_snapshots_stay_readable(tmp_path, repo):
    first = rep.commit_version(repo, _version(tmp_path / "v1", 1.0), message="one")
    second = rep.commit_version(repo, _version(tmp_path / "v2", 2.0, scenario=False), message="two")
    rep.tag_snapshot(repo, "release-1", first)
    rows = rep.history(repo)
    assert [r["id"] for r in rows[:2]] == [second, first]
    assert [r["message"] for r in rows] == ["two", "one", "Repository initialized"]
    assert rows[1]["tags"] == ["release-1"] and rows[0]["tags"] == []
    assert rep.open_group(rep.checkout(repo))[1] == {"foreign_total_t": 2.0}
    assert rep.open_group(rep.checkout(repo, snapshot=first))[1] == {"foreign_total_t": 1.0}
    assert rep.open_group(rep.checkout(repo, tag="release-1"))[1] == {"foreign_total_t": 1.0}
    assert rep.scenario_names(rep.checkout(repo)) == []  # the second run had none
    with pytest.raises(OutputError, match="the tag exists"):
        rep.tag_snapshot(repo, "release-1", second)
    with pytest.raises(OutputError, match="--tag 'bad tag'"):
        rep.check_tag("bad tag")
    with pytest.raises(InputFileError, match="no tag 'nope'.*tags: \\['release-1'\\]"):
        rep.checkout(repo, tag="nope")


def test_a_failing_copy_leaves_no_commit(tmp_path, repo, monkeypatch):
    rep.commit_version(repo, _version(tmp_path / "v1", 1.0), message="one")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        rep.commit_version(repo, _version(tmp_path / "v2", 2.0), message="two", compute=broken)
    assert [r["message"] for r in rep.history(repo)] == ["one", "Repository initialized"]
    assert rep.open_group(rep.checkout(repo))[1] == {"foreign_total_t": 1.0}


def test_chunks_are_copied_by_several_tasks(tmp_path, repo, monkeypatch):
    monkeypatch.setattr(rep, "TASK_BYTES", 1)  # one task per chunk file
    seen = []

    def counting(*tasks):
        seen.append(len(tasks))
        return dask.compute(*tasks)

    rep.commit_version(repo, _version(tmp_path / "v1", 1.0), message="one", compute=counting)
    files = [p for p in (tmp_path / "v1").rglob("c/*") if p.is_file()]
    assert seen == [
        len(
            [
                p
                for p in (tmp_path / "v1").rglob("*")
                if p.is_file() and p.name != "zarr.json" and p.suffix not in (".json", ".png")
            ]
        )
    ]
    assert seen[0] >= len(files) > 4


def test_opening_a_missing_repository_names_the_fix(tmp_path):
    with pytest.raises(InputFileError, match="no result repository here; run `footprint-map run`"):
        rep.open_repository(parse_location(tmp_path / "nothing"))


def test_a_commit_after_another_writers_commit_is_refused_with_one_line(tmp_path, repo):
    stale = rep.open_repository(parse_location(tmp_path / "out" / "footprint"))
    rep.commit_version(repo, _version(tmp_path / "v1", 1.0), message="one")
    session = stale.writable_session("main")  # opened before the other run commits
    rep.commit_version(repo, _version(tmp_path / "v2", 2.0), message="two")

    original = stale.writable_session
    stale.writable_session = lambda branch: session  # type: ignore[method-assign]
    try:
        with pytest.raises(OutputError, match="another run committed to the result repository"):
            rep.commit_version(stale, _version(tmp_path / "v3", 3.0), message="three")
    finally:
        stale.writable_session = original
    assert [r["message"] for r in rep.history(repo)][:2] == ["two", "one"]
