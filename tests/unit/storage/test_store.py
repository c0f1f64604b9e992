"""Atomic stores, result versions published together, the output lock and safe clean-up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import ConservationError, InputFileError, OutputError
from pipeline.results.maps import safe_slug
from pipeline.storage.lock import LOCK, output_lock
from pipeline.storage.provenance import stage_key
from pipeline.storage.versions import (
    CURRENT,
    KEEP_VERSIONS,
    VERSIONS,
    clean_output,
    is_complete,
    new_version,
    open_version,
    resolve_store,
    stored_key,
    write_text_atomic,
    write_zarr_atomic,
)


def dataset(value: float) -> xr.Dataset:
    return xr.Dataset({"a": (("y", "x"), np.full((4, 5), value))}).chunk({"y": 2})


def publish(out, value, *, key="k", check=None, fail_summary=False):
    """One result version as a run writes it: store, then summary, then publish."""
    with new_version(out) as version:
        write_zarr_atomic(dataset(value), version / "footprint.zarr", key=key, check=check)
        if fail_summary:
            raise ValueError("summary failed")
        write_text_atomic(version / "summary.json", json.dumps({"value": value}))
        (version / "maps").mkdir()
        (version / "maps" / "map.png").write_text(str(value))


def current(out) -> tuple[float, float, str]:
    """(store value, summary value, map text), read through the fixed links."""
    store = float(xr.open_zarr(out / "footprint.zarr")["a"].max())
    summary = json.loads((out / "summary.json").read_text())["value"]
    return store, summary, (out / "maps" / "map.png").read_text()


def test_versions_publish_store_summary_and_maps_together(tmp_path):
    publish(tmp_path, 1.0)
    first = resolve_store(tmp_path / "footprint.zarr")
    assert current(tmp_path) == (1.0, 1.0, "1.0")
    assert (tmp_path / CURRENT).is_symlink() and stored_key(tmp_path / "footprint.zarr") == "k"
    publish(tmp_path, 2.0, key="k2")
    second = resolve_store(tmp_path / "footprint.zarr")
    assert current(tmp_path) == (2.0, 2.0, "2.0") and first.exists() and second != first
    publish(tmp_path, 3.0)
    assert not first.exists() and second.exists()
    versions = [p for p in (tmp_path / VERSIONS).iterdir() if not p.name.startswith(".")]
    assert len(versions) == KEEP_VERSIONS == 2


def test_failure_after_the_store_is_written_keeps_the_previous_result(tmp_path):
    publish(tmp_path, 1.0)
    with pytest.raises(ValueError, match="summary failed"):
        publish(tmp_path, 2.0, fail_summary=True)
    assert current(tmp_path) == (1.0, 1.0, "1.0")
    assert [p.name for p in (tmp_path / VERSIONS).iterdir() if p.name.startswith(".")] == []


def test_failed_check_leaves_the_previous_result(tmp_path):
    publish(tmp_path, 1.0)

    def fail(_):
        raise ConservationError("conservation failed: test")

    with pytest.raises(ConservationError):
        publish(tmp_path, 2.0, check=fail)
    assert is_complete(tmp_path / "footprint.zarr") and current(tmp_path) == (1.0, 1.0, "1.0")


def test_first_write_failing_leaves_nothing(tmp_path):
    with pytest.raises(ZeroDivisionError):
        publish(tmp_path, 1.0, check=lambda _: 1 / 0)
    assert not os.path.lexists(tmp_path / "footprint.zarr")
    assert list((tmp_path / VERSIONS).iterdir()) == []


def test_reader_of_a_kept_version_is_not_mixed_and_of_a_deleted_one_errors(tmp_path):
    publish(tmp_path, 1.0)
    reader = open_version(tmp_path / "footprint.zarr")
    plain = xr.open_zarr(resolve_store(tmp_path / "footprint.zarr"))
    publish(tmp_path, 2.0)
    np.testing.assert_array_equal(reader["a"].values, 1.0)  # the previous version is kept
    publish(tmp_path, 3.0)  # ... until the one after
    assert np.isnan(plain["a"].values).all()  # what a plain reader silently gets
    with pytest.raises(InputFileError, match="deleted by a later run"):
        reader["a"].load()
    np.testing.assert_array_equal(open_version(tmp_path / "footprint.zarr")["a"].values, 3.0)


def test_unversioned_store_and_text_are_replaced_whole(tmp_path):
    store = tmp_path / "inventory.zarr"
    write_zarr_atomic(dataset(1.0), store, key="a")
    write_zarr_atomic(dataset(5.0), store, key="b")
    assert not store.is_symlink() and stored_key(store) == "b"
    assert float(xr.open_zarr(store)["a"].min()) == 5.0
    text = write_text_atomic(tmp_path / "summary.json", "{}")
    assert text.read_text() == "{}" and [p.name for p in tmp_path.iterdir() if "~" in p.name] == []


def test_old_layout_is_taken_over(tmp_path):
    """A directory written before versions: real footprint.zarr, summary.json and maps/."""
    write_zarr_atomic(dataset(0.5), tmp_path / "footprint.zarr", key="old")
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "maps").mkdir()
    publish(tmp_path, 1.0)
    assert current(tmp_path) == (1.0, 1.0, "1.0")
    assert all((tmp_path / n).is_symlink() for n in ("footprint.zarr", "summary.json", "maps"))


# ------------------------------------------------------------------ clean-up
def test_symlinked_versions_is_refused_and_nothing_outside_is_deleted(tmp_path):
    outside = tmp_path / "precious"
    victim = outside / f".v20200101T000000-deadbeef.partial~{socket.gethostname()}~999999~ab"
    victim.mkdir(parents=True)
    (outside / "v20200101T000000-0badf00d").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / VERSIONS).symlink_to(outside)
    with pytest.raises(OutputError, match="symbolic link"):
        clean_output(out)
    with pytest.raises(OutputError, match="symbolic link"):
        publish(out, 1.0)
    assert victim.is_dir() and (outside / "v20200101T000000-0badf00d").is_dir()


def test_clean_up_removes_only_temporaries_whose_owner_is_gone(tmp_path):
    host = socket.gethostname()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        versions = tmp_path / VERSIONS
        dead = versions / f".v1.partial~{host}~{gone}~aaaa"
        alive = versions / f".v2.partial~{host}~{sleeper.pid}~bbbb"
        stray = tmp_path / f".footprint.zarr.partial~{host}~{gone}~cccc"
        other = tmp_path / "unrelated~x~1~y"
        for path in (dead, alive, stray, other):
            path.mkdir(parents=True)
        clean_output(tmp_path)
        assert not dead.exists() and not stray.exists()
        assert alive.exists() and other.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


# ------------------------------------------------------------------------ lock
LOCK_HOLDER = """
import sys, time
from pipeline.storage.lock import output_lock
with output_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match=f"pid {holder.pid} on host {socket.gethostname()}"):
            with output_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with output_lock(tmp_path) as lock:  # the killed holder's lock is stale: taken over
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with output_lock(tmp_path):  # re-entrant in one process
            pass
        assert lock.exists()
    assert not (tmp_path / LOCK).exists()


def test_lock_of_another_host_is_not_taken(tmp_path):
    (tmp_path / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "x"}))
    with pytest.raises(OutputError, match="pid 1 on host elsewhere.*delete"):
        with output_lock(tmp_path):
            pass


# ---------------------------------------------------------------------- misc
@pytest.mark.parametrize("label", ["../../x", "a/b", "/etc/passwd", "..", ".hidden", "CN-GD"])
def test_safe_slug_stays_in_its_directory(tmp_path, label):
    slug = safe_slug(label)
    assert (tmp_path / f"sector_{slug}.png").resolve().parent == tmp_path.resolve()
    assert "/" not in slug and not slug.startswith(".")
    assert (slug == label) == (label == "CN-GD")
    assert safe_slug("a/b") != safe_slug("a_b")


def test_stage_key_depends_on_every_part():
    base = stage_key(stage="ingest", inputs={"a": "sha256:1"}, config={"x": 1})
    assert base == stage_key(config={"x": 1}, inputs={"a": "sha256:1"}, stage="ingest")
    assert base != stage_key(stage="ingest", inputs={"a": "sha256:2"}, config={"x": 1})
    assert base != stage_key(stage="ingest", inputs={"a": "sha256:1"}, config={"x": 2})


def test_resume_key_ignores_maps_and_input_location(tmp_path):
    from helpers.demo_inputs import demo_config

    from pipeline.workflow.run import _Plan

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


def _chunk_inodes(array_dir) -> dict[str, int]:
    return {
        str(p.relative_to(array_dir)): p.stat().st_ino
        for p in array_dir.rglob("*")
        if p.is_file() and p.name != "zarr.json"
    }


def test_a_linked_array_keeps_its_chunks_and_takes_the_new_attributes(tmp_path):
    data = xr.DataArray(np.arange(24.0).reshape(2, 3, 4), dims=("s", "y", "x"))
    source = tmp_path / "source.zarr"
    write_zarr_atomic(xr.Dataset({"e": data.assign_attrs(long_name="ingested")}), source)
    before = (source / "e" / "zarr.json").read_text()
    out = tmp_path / "out.zarr"
    ds = xr.Dataset({"e": data.assign_attrs(long_name="stored"), "f": data * 2})
    write_zarr_atomic(ds, out, linked={"e": source / "e"})
    assert _chunk_inodes(out / "e") == _chunk_inodes(source / "e")  # linked, not rewritten
    assert (source / "e" / "zarr.json").read_text() == before  # the source is untouched
    opened = xr.open_zarr(out)
    assert opened["e"].attrs["long_name"] == "stored"
    np.testing.assert_array_equal(opened["e"].values, data.values)
    np.testing.assert_array_equal(opened["f"].values, 2 * data.values)


def test_an_array_of_another_layout_is_written_not_linked(tmp_path):
    data = xr.DataArray(np.arange(24.0).reshape(2, 3, 4), dims=("s", "y", "x"))
    source = tmp_path / "source.zarr"
    write_zarr_atomic(xr.Dataset({"e": data}), source)
    out = tmp_path / "out.zarr"
    other = (data + 1).chunk({"s": 1})  # other values, other chunks: must not be linked
    write_zarr_atomic(xr.Dataset({"e": other}), out, linked={"e": source / "e"})
    assert not set(_chunk_inodes(out / "e").values()) & set(_chunk_inodes(source / "e").values())
    np.testing.assert_array_equal(xr.open_zarr(out)["e"].values, data.values + 1)
