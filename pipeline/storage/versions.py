"""Atomic zarr and file outputs, result versions, stage keys, provenance.

A store is written to a hidden temporary beside its final path, checked,
stamped complete, and only then moved into place. Temporaries carry their
writer's host and pid (``.NAME.partial~HOST~PID~ID``); the next run removes those
whose writer is gone.

**Result versions.** A run writes ``footprint.zarr``, ``summary.json`` and
``maps/`` into a new hidden directory ``DIR/.versions/.<id>.partial~...``,
renames it to ``DIR/.versions/<id>`` and then publishes it in one atomic step:
``DIR/.current`` is a link to ``.versions/<id>``, replaced by ``rename``.
``DIR/footprint.zarr``, ``DIR/summary.json`` and ``DIR/maps`` are fixed links
into ``.current``, so the three always come from the same run. A failure
before the swap leaves the previous result whole. :data:`KEEP_VERSIONS`
versions are kept (the current one and the one before); an older version is
first renamed away (``.versions/.trash-*``), then deleted. A reader that opened
a version with :func:`open_version` gets an error, never NaN, once it is gone.

**The commit.** Before the swap, the version is committed as one snapshot of the
result repository (:mod:`pipeline.storage.publication`); ``.current`` and the
links are its checkout for the tools that read files.

**One writer per directory**: :func:`pipeline.storage.lock.output_lock`; only its
holder cleans temporaries.

Nothing outside ``DIR`` is ever deleted: ``DIR/.versions`` may not be a link,
and every removal checks that its path lies inside ``DIR``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dask
import xarray as xr
import zarr
import zarr.storage

from pipeline.errors import InputFileError, OutputError
from pipeline.storage import repository
from pipeline.storage.lock import pid_alive
from pipeline.storage.publication import commit
from pipeline.storage.repository import STORE_NAME

COMPLETE_ATTR = "footprint_map_complete"
#: The completeness mark's value: an int, which netCDF and GDAL attributes hold
#: (stores written before it carry ``True``; :func:`is_complete` reads both).
COMPLETE = 1
KEY_ATTR = "footprint_map_stage_key"
VERSIONS = ".versions"
CURRENT = ".current"
#: The file of a version naming its snapshot in the result repository.
SNAPSHOT_FILE = ".snapshot"
#: Result versions kept: the current one and the one before it.
KEEP_VERSIONS = 2
_STAMP_RE = re.compile(r"\d{8}T\d{6}\d*")
#: Where a version holds its scenarios (``scenarios/NAME/footprint.zarr`` and ``summary.json``).
SCENARIOS = "scenarios"
#: What a version holds; ``DIR/<name>`` links to ``DIR/.current/<name>``.
RESULT_NAMES = (STORE_NAME, "summary.json", "maps", SCENARIOS)
_VERSION_RE = re.compile(r"^(v\d{8}T\d{6}\d*-[0-9a-f]{8}|footprint-\d{8}T\d{6}-[0-9a-f]{8}\.zarr)$")


def ensure_writable_dir(path: Path) -> Path:
    """Create ``path`` if needed and check that files can be created in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"{path}: output directory is not writable ({exc.strerror}); choose another --out"
        ) from exc
    return path


def _owner() -> str:
    return f"{socket.gethostname()}~{os.getpid()}"


def _temporary(final: Path, kind: str = "partial") -> Path:
    """A hidden sibling of ``final`` tagged with this process (see module docstring)."""
    return final.parent / f".{final.name}.{kind}~{_owner()}~{uuid.uuid4().hex[:8]}"


def _owner_gone(path: Path) -> bool:
    """Whether the writer named in a temporary's name is no longer running.

    A writer on another host counts as gone: temporaries are only cleaned by
    the holder of the directory's lock, so no other run is writing there.
    """
    parts = path.name.rsplit("~", 3)
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    return parts[1] != socket.gethostname() or not pid_alive(int(parts[2]))


def _remove(path: Path, root: Path) -> None:
    """Delete ``path`` (a file, link or tree) if it lies inside ``root``; never follow links."""
    inside = Path(os.path.realpath(path.parent)) / path.name
    if not inside.is_relative_to(Path(os.path.realpath(root))):
        raise OutputError(f"{path}: refusing to delete a path outside {root}")
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def clean_temporaries(directory: Path, root: Path) -> list[Path]:
    """Remove hidden temporaries in ``directory`` whose writer is gone; return them."""
    removed = []
    for path in sorted(directory.glob(".*~*~*~*")):
        if _owner_gone(path):
            _remove(path, root)
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success move it to ``final``.

    On an exception the temporary is removed and ``final`` is left untouched.
    """
    final = Path(final)
    tmp = _temporary(final)
    try:
        yield tmp
        _replace(tmp, final)
    except BaseException:
        _remove(tmp, final.parent)
        raise


def _replace(tmp: Path, final: Path) -> None:
    if tmp.is_dir() and final.exists() and not final.is_symlink():
        old = _temporary(final, "old")
        os.replace(final, old)
        os.replace(tmp, final)
        _remove(old, final.parent)
    else:
        os.replace(tmp, final)


def write_zarr_atomic(
    ds: xr.Dataset,
    final: Path,
    *,
    also_compute: Mapping[str, Any] | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
    compute: Callable[..., tuple] = dask.compute,
    key: str | None = None,
    attrs: Callable[[], Mapping[str, Any]] | None = None,
    linked: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """Write ``ds`` to zarr v3 at ``final`` atomically, computing checks in the same pass.

    Parameters
    ----------
    ds : xarray.Dataset
        Lazy or in-memory dataset.
    final : Path
        Destination store.
    also_compute : mapping, optional
        Lazy values (e.g. conservation sums) computed in the same graph as the
        write, so shared chunks are computed once.
    check : callable, optional
        Called with the computed ``also_compute`` before the store is stamped
        complete and moved into place; it raises to abort the write.
    compute : callable, optional
        ``dask.compute``-like function (e.g. one that shows progress).
    key : str, optional
        Stage key stamped with the completion mark (see :func:`stage_key`).
    attrs : callable, optional
        Returns attributes to stamp with the completion mark (after ``check``).
    linked : mapping, optional
        Array name -> an array directory of a complete store, hard-linked into
        the store (not rewritten) before it is stamped. An array ``ds`` holds
        too is linked only if ``ds`` would write that layout (then with ``ds``'s
        attributes); otherwise it is written as usual (:func:`_linkable`).

    Returns
    -------
    dict
        The computed ``also_compute`` values.
    """
    with atomic_path(Path(final)) as tmp:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            linked, metadata = _linkable(ds, dict(linked or {}), tmp)
            written = ds.drop_vars(list(metadata))
            delayed = written.to_zarr(
                tmp, mode="w", zarr_format=3, consolidated=False, compute=False
            )
            _, results = compute(delayed, dict(also_compute or {}))
            if check is not None:
                check(results)
            _link_arrays(tmp, linked, metadata)
            group = zarr.open_group(tmp, mode="r+")
            group.attrs.update(
                {**(attrs() if attrs else {}), COMPLETE_ATTR: COMPLETE, KEY_ATTR: key or ""}
            )
            zarr.consolidate_metadata(tmp)
    return results


def _link_arrays(tmp: Path, linked: Mapping[str, Path], metadata: Mapping[str, str]) -> None:
    """Hard-link ``linked`` into ``tmp``, each with its new metadata if it has one."""
    for name, source in linked.items():
        link_copy(source, tmp / name)
        if name in metadata:  # a new file: the source's stays as it was
            (tmp / name / "zarr.json").unlink()
            (tmp / name / "zarr.json").write_text(metadata[name])


def _linkable(
    ds: xr.Dataset, linked: dict[str, Path], tmp: Path
) -> tuple[dict[str, Path], dict[str, str]]:
    """The arrays to link, and the metadata ``ds`` gives those of them it holds.

    An array of ``ds`` is linked only if its metadata, written by xarray apart,
    has the source's layout (everything but the attributes); else it is dropped
    from ``linked`` and written with the rest.
    """
    metadata = {}
    for name in [n for n in linked if n in ds.variables]:
        scratch = tmp.with_name(tmp.name + f".{name}-metadata")
        try:
            ds[[name]].to_zarr(scratch, mode="w", zarr_format=3, consolidated=False, compute=False)
            text = (scratch / name / "zarr.json").read_text()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        source = json.loads((linked[name] / "zarr.json").read_text())
        mine = json.loads(text)
        if {**mine, "attributes": None} == {**source, "attributes": None}:
            metadata[name] = text
        else:
            del linked[name]
    return linked, metadata


# ------------------------------------------------------------------- versions
def versions_dir(out: Path) -> Path:
    """``out/.versions``, created if needed; refused if it is a link (or not a directory)."""
    path = Path(out) / VERSIONS
    if path.is_symlink():
        raise OutputError(
            f"{path} is a symbolic link (to {os.readlink(path)}); footprint-map keeps result "
            "versions only inside --out: remove the link (and move its contents) and rerun"
        )
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is not a directory; remove it and rerun")
    path.mkdir(exist_ok=True)
    return path


def run_owned_part(path: Path) -> str | None:
    """The part of a results directory that its runs own and ``path`` lies in, or None.

    ``.versions`` (``DIR/footprint.zarr``, ``DIR/maps`` and the summary link
    there), ``footprint`` (the result repository) and ``work`` (the ``--resume``
    cache) are the runs'; exports and
    reports written there would be lost or would corrupt a result.
    """
    real = Path(os.path.realpath(path))
    for parent in (real, *real.parents):
        if parent.name == VERSIONS or (
            parent.name in ("work", repository.REPOSITORY) and (parent.parent / STORE_NAME).exists()
        ):
            return parent.name
    return None


def refuse_run_owned(output: Path, default: str) -> None:
    """Raise :class:`OutputError` if ``--output`` lies in a part runs own (:func:`run_owned_part`).

    ``default`` names the command's default output, suggested in the message.
    """
    part = run_owned_part(output)
    if part is not None:
        raise OutputError(
            f"--output {output} is part of a results directory (it lies in {part}); "
            f"choose a path beside it, e.g. the default {default}"
        )


def clean_output(out: Path) -> None:
    """Remove the temporaries of runs that are gone (call while holding the lock)."""
    out = Path(out)
    clean_temporaries(out, out)
    for sub in (out / "work", out / VERSIONS):
        if sub.is_dir() and not sub.is_symlink():
            clean_temporaries(sub, out)
    versions = versions_dir(out)
    for path in versions.glob(".trash-*"):
        _remove(path, out)


@contextlib.contextmanager
def new_version(out: Path) -> Iterator[Path]:
    """Yield an empty hidden version directory; on success commit and publish it.

    Write ``footprint.zarr``, ``summary.json`` and ``maps/`` into it. It is
    committed to the result repository
    (:func:`pipeline.storage.publication.commit`), then made current. On an
    exception it is deleted and the current result is left as it was.
    """
    out = Path(out)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    final = versions_dir(out) / f"v{stamp}-{uuid.uuid4().hex[:8]}"
    tmp = _temporary(final)
    tmp.mkdir()
    try:
        yield tmp
        for name in ("maps", SCENARIOS):
            (tmp / name).mkdir(exist_ok=True)
        (tmp / SNAPSHOT_FILE).write_text(commit(out, tmp))
        os.rename(tmp, final)
    except BaseException:
        _remove(tmp, out)
        raise
    publish(out, final)


def publish(out: Path, version: Path) -> None:
    """Make ``version`` current: one ``rename`` of ``out/.current``; prune old versions."""
    link = _temporary(out / CURRENT, "link")
    os.symlink(os.path.relpath(version, out), link)
    os.replace(link, out / CURRENT)  # the atomic step
    for name in RESULT_NAMES:
        _ensure_link(out / name, f"{CURRENT}/{name}", out)
    prune_versions(out)


def _ensure_link(path: Path, target: str, out: Path) -> None:
    """Make ``path`` the relative link ``target`` (moving an older real file or store away)."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    if path.is_dir() and not path.is_symlink():  # from before versioned results
        os.replace(path, versions_dir(out) / f".trash-{uuid.uuid4().hex[:8]}")
    link = _temporary(path, "link")
    os.symlink(target, link)
    os.replace(link, path)


def prune_versions(out: Path, keep: int = KEEP_VERSIONS) -> list[Path]:
    """Delete all but the current and the ``keep - 1`` newest other versions."""
    versions = versions_dir(out)
    current = Path(os.path.realpath(out / CURRENT))
    found = sorted(
        (p for p in versions.iterdir() if _VERSION_RE.match(p.name) and p.resolve() != current),
        key=lambda p: (_STAMP_RE.search(p.name).group(0), p.name),
        reverse=True,
    )
    old = found[max(keep - 1, 0) :]
    for path in old:
        trash = versions / f".trash-{uuid.uuid4().hex[:8]}"
        os.replace(path, trash)  # readers of it now see it gone, not half-deleted
        _remove(trash, out)
    return old


def link_copy(source: Path, dest: Path) -> Path:
    """Copy the tree ``source`` to ``dest`` with hard links (complete stores never change)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, dest, copy_function=link)
    return dest


class _VersionStore(zarr.storage.LocalStore):
    """A read-only LocalStore that raises instead of reading fill values once deleted."""

    async def get(self, key, prototype=None, byte_range=None):
        value = await super().get(key, prototype, byte_range)
        if value is None and not self.root.is_dir():
            raise InputFileError(
                f"{self.root}: this result version was deleted by a later run "
                f"(footprint-map keeps {KEEP_VERSIONS}); reopen the results directory"
            )
        return value


def open_version(store: Path, **kwargs: Any) -> xr.Dataset:
    """``xr.open_zarr`` of the version ``store`` resolves to, erroring once it is deleted.

    A plain ``xr.open_zarr`` of a deleted version reads missing chunks as NaN;
    this one raises :class:`~pipeline.errors.InputFileError` instead.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return xr.open_zarr(_VersionStore(resolve_store(store), read_only=True), **kwargs)


def check_outside_inputs(out: Path, inputs: Iterable[Path]) -> None:
    """Refuse an output directory inside (or equal to) an input directory."""
    real = Path(os.path.realpath(out))
    for path in inputs:
        directory = Path(os.path.realpath(path))
        if directory.is_dir() and real.is_relative_to(directory):
            raise OutputError(
                f"--out {out} lies inside the input directory {path}; "
                "choose an output directory outside the inputs"
            )


def checkout_snapshot(out: Path) -> str | None:
    """The snapshot id of ``out``'s current version (None if written before repositories)."""
    path = Path(out) / CURRENT / SNAPSHOT_FILE
    return path.read_text().strip() if path.is_file() else None


def resolve_store(path: Path) -> Path:
    """The version directory a result link points to (``path`` itself otherwise)."""
    return Path(os.path.realpath(path))


def stored_key(store: Path) -> str | None:
    """The stage key of a complete store, or None if it is absent or incomplete."""
    if not is_complete(store):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.open_group(store, mode="r").attrs.get(KEY_ATTR) or None


def is_complete(store: Path) -> bool:
    """Whether ``store`` is a zarr store that a run finished writing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mark = zarr.open_group(store, mode="r").attrs.get(COMPLETE_ATTR)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError):
        return False
    return mark is True or (type(mark) is int and mark == COMPLETE)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
