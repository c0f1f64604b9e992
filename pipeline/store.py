"""Atomic zarr and file outputs, stage keys and provenance.

A store is written to a hidden temporary directory beside its final path,
checked, stamped complete, and only then moved into place. A failed or killed
run therefore leaves either the previous complete store or none, never a
partial store under the final name. Leftover temporaries are ignored by
readers and removed by the next run.

The result store is *versioned*: ``DIR/footprint.zarr`` is a symbolic link to
``DIR/.versions/<id>.zarr``, swapped atomically (``rename`` of a new link over
the old one). A reader that resolved the link (``pipeline.open_results`` does)
keeps reading its version while a rerun writes the next one; the previous
version is kept until the one after.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dask
import xarray as xr
import zarr

from pipeline.errors import OutputError

COMPLETE_ATTR = "footprint_map_complete"
KEY_ATTR = "footprint_map_stage_key"
VERSIONS = ".versions"
_PACKAGES = (
    "footprint-map",
    "numpy",
    "scipy",
    "dask",
    "distributed",
    "xarray",
    "zarr",
    "rioxarray",
    "rasterio",
    "pymrio",
    "pandas",
)


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


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success move it to ``final``.

    On an exception the temporary is removed and ``final`` is left untouched.
    """
    final = Path(final)
    for stale in final.parent.glob(f".{final.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink()
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        _replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


def _replace(tmp: Path, final: Path) -> None:
    if tmp.is_dir() and final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
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
    versioned: bool = False,
    attrs: Callable[[], Mapping[str, Any]] | None = None,
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
    versioned : bool
        Write a new version under ``.versions`` and swap the ``final`` link.
    attrs : callable, optional
        Returns attributes to stamp with the completion mark (after ``check``).

    Returns
    -------
    dict
        The computed ``also_compute`` values.
    """
    target = _new_version(final) if versioned else final
    with atomic_path(target) as tmp:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            delayed = ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False, compute=False)
            _, results = compute(delayed, dict(also_compute or {}))
            if check is not None:
                check(results)
            group = zarr.open_group(tmp, mode="r+")
            group.attrs.update(
                {**(attrs() if attrs else {}), COMPLETE_ATTR: True, KEY_ATTR: key or ""}
            )
            zarr.consolidate_metadata(tmp)
    if versioned:
        _point_link(final, target)
    return results


def _new_version(final: Path) -> Path:
    versions = final.parent / VERSIONS
    versions.mkdir(exist_ok=True)
    for stale in versions.glob(f".{final.stem}-*{final.suffix}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run (one writer per DIR)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return versions / f"{final.stem}-{stamp}-{uuid.uuid4().hex[:8]}{final.suffix}"


def _point_link(final: Path, target: Path) -> None:
    """Atomically make ``final`` a relative link to ``target``; keep one older version."""
    previous = final.resolve() if final.is_symlink() else None
    if final.exists() and not final.is_symlink():  # a store from before versioning
        os.replace(final, _new_version(final))
    link = final.parent / f".{final.name}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(target, final.parent), link)
    os.replace(link, final)
    keep = {target.resolve(), previous}
    prefix = final.stem + "-"
    for old in (final.parent / VERSIONS).glob(f"{prefix}*{final.suffix}"):
        if old.resolve() not in keep:
            shutil.rmtree(old, ignore_errors=True)


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


def stage_key(**parts: Any) -> str:
    """SHA-256 of ``parts`` (JSON-serialisable), identifying a stage's inputs."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def is_complete(store: Path) -> bool:
    """Whether ``store`` is a zarr store that a run finished writing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(zarr.open_group(store, mode="r").attrs.get(COMPLETE_ATTR, False))
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError):
        return False


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def file_checksum(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, or of every file under a directory in name order."""
    digest = hashlib.sha256()
    files: Iterable[Path] = (
        sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    )
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def input_checksums(inputs: Mapping[str, Path]) -> dict[str, str]:
    """``sha256:`` checksums of the inputs, by name."""
    return {k: f"sha256:{file_checksum(Path(p))}" for k, p in sorted(inputs.items())}


def provenance(*, config_text: str, checksums: Mapping[str, str]) -> dict[str, str]:
    """Attributes recording the config, package versions, time and input checksums."""
    versions = {}
    for name in _PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": config_text,
        "package_versions": json.dumps(versions, sort_keys=True),
        "input_checksums": json.dumps(dict(checksums), sort_keys=True),
    }
