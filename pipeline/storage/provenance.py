"""Provenance of a run: input checksums, stage keys, package versions.

A stage's ``--resume`` key (:func:`stage_key`) and a store's provenance
attributes (:func:`provenance`) come from here, as do the checksums a result
repository's commit message records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

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


def stage_key(**parts: Any) -> str:
    """SHA-256 of ``parts`` (JSON-serialisable), identifying a stage's inputs."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


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
