"""More malformed inputs for :mod:`integration.test_bad_inputs` (issue #11): readers, values.

Each function corrupts the private copy described by ``integration.test_bad_inputs.Ctx``;
:data:`CASES` maps a case name to the corruption and the needles its one
``error:`` line must contain (the input it names and the fix).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio


@dataclass(frozen=True)
class Case:
    corrupt: Callable
    needles: tuple[str, ...]
    flags: tuple[str, ...] = field(default=())
    #: starts a LocalCluster (the check runs in the Dask tasks)
    slow: bool = False
    #: a known gap outside the readers, with the reason (strict xfail)
    xfail: str = ""


def _tif(ctx, sector: str) -> Path:
    return ctx.inputs / "inventory" / f"{sector}.tif"


def _rewrite_tif(path: Path, change: Callable[[np.ndarray, dict], tuple[np.ndarray, dict]]):
    with rasterio.open(path) as src:
        data, profile, tags = src.read(1), src.profile, src.tags()
    data, profile = change(data.copy(), dict(profile))
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(**tags)


def _set_cells(sector: str, value: float, cells=((40, 40),)):
    def corrupt(ctx):
        def change(data, profile):
            for row, col in cells:
                data[row, col] = value
            return data, profile

        _rewrite_tif(_tif(ctx, sector), change)

    return corrupt


def _global(ctx, name: str) -> Path:
    return ctx.inputs / "mrio" / "global" / f"{name}.csv"


def _provincial(ctx, name: str) -> Path:
    return ctx.inputs / "mrio" / "provincial" / f"{name}.csv"


def _matrix(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, header=[0, 1], index_col=[0, 1])


def _set_entry(where: Callable, name: str, row, col, value):
    """Set one entry of an MRIO matrix (Z, Y: 2x2 labels; F: stressor row; x: vector)."""

    def corrupt(ctx):
        path = where(ctx, name)
        if name == "F":
            frame = pd.read_csv(path, header=[0, 1], index_col=0)
        elif name == "x":
            frame = pd.read_csv(path, index_col=[0, 1])
        else:
            frame = _matrix(path)
        frame = frame.astype(object) if isinstance(value, str) else frame
        frame.loc[row, col] = value
        frame.to_csv(path)

    return corrupt


def _write_bytes(relative: str, data: bytes):
    def corrupt(ctx):
        (ctx.inputs / relative).write_bytes(data)

    return corrupt


def _geojson(change: Callable[[dict], object]):
    def corrupt(ctx):
        path = ctx.inputs / "boundaries" / "china_provinces.geojson"
        doc = json.loads(path.read_text())
        doc = change(doc) or doc
        path.write_text(json.dumps(doc))

    return corrupt


def _edit(old: str, new: str):
    def corrupt(ctx):
        ctx.edit(old, new)

    return corrupt


# ------------------------------------------------------------------------- inventory
def inventory_corrupt_tile(ctx):
    """A tiled, deflated GeoTIFF whose header opens but one tile's bytes are garbage."""
    path = _tif(ctx, "cement")

    def tiles(data, profile):
        profile.update(tiled=True, blockxsize=16, blockysize=16, compress="deflate")
        return data, profile

    _rewrite_tif(path, tiles)
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_2_2", "TIFF", bidx=1))
        size = int(src.get_tag_item("BLOCK_SIZE_2_2", "TIFF", bidx=1))
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xde\xad\xbe\xef" * (size // 4 + 1))


def inventory_zero_bytes(ctx):
    _tif(ctx, "power").write_bytes(b"")


def inventory_symlink_loop(ctx):
    path = _tif(ctx, "transport")
    path.unlink()
    path.symlink_to(path.name)


def inventory_is_directory(ctx):
    path = _tif(ctx, "services")
    path.unlink()
    path.mkdir()


def inventory_inf_nodata_declared_other(ctx):
    """Nodata is -9999 but one cell is +Inf (not nodata): an error."""

    def change(data, profile):
        profile["nodata"] = -9999.0
        data[20, 20] = np.inf
        return data, profile

    _rewrite_tif(_tif(ctx, "chemicals"), change)


def inventory_overflow_after_units(ctx):
    """1e305 Mt per cell is finite, but 1e311 t is not."""
    _set_cells("power", 1e305)(ctx)
    ctx.edit('units = "t CO2/cell/yr"', 'units = "Mt CO2/cell/yr"')


# ------------------------------------------------------------------------- MRIO
def mrio_semicolon(ctx):
    path = _global(ctx, "Z")
    _matrix(path).to_csv(path, sep=";")


def mrio_empty_units(ctx):
    _global(ctx, "units").write_bytes(b"")


def mrio_units_header_only(ctx):
    _global(ctx, "units").write_text("stressor;unit\n")


def mrio_units_latin1(ctx):
    _global(ctx, "units").write_bytes("stressor,unit\nCO2,t\nCO2 \xe9,t\n".encode("latin-1"))


def mrio_latin1_label(ctx):
    path = _provincial(ctx, "F")
    text = path.read_text().replace("CO2", "CO2 (b\u00e9ton)", 1)
    path.write_bytes(text.encode("latin-1"))


def mrio_missing_y_row(ctx):
    path = _global(ctx, "Y")
    y = _matrix(path)
    y.drop(index=("KOR", "food")).to_csv(path)


def mrio_extra_z_column(ctx):
    path = _global(ctx, "Z")
    z = _matrix(path)
    extra = pd.DataFrame({("ATL", "food"): 0.0}, index=z.index)
    pd.concat([z, extra], axis=1).to_csv(path)


def mrio_empty_z(ctx):
    _global(ctx, "Z").write_bytes(b"")


def mrio_header_only_z(ctx):
    path = _global(ctx, "Z")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]))


def mrio_no_stressor_row(ctx):
    path = _global(ctx, "F")
    path.write_text(path.read_text().replace("\nCO2,", "\nCH4,", 1))


def mrio_duplicate_y_column(ctx):
    path = _global(ctx, "Y")
    lines = path.read_text().splitlines(keepends=True)
    cells = lines[1].rstrip("\n").split(",")
    cells[3] = cells[2]  # second category of the first region repeats the first
    lines[1] = ",".join(cells) + "\n"
    path.write_text("".join(lines))


# ------------------------------------------------------------------------- concordances
def concordance_header_only(ctx):
    (ctx.inputs / "inventory_concordance.csv").write_text("inventory_sector,mrio_sector\n")


def concordance_latin1(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    text = path.read_text() + "b\u00e9ton,nonmetallic_minerals\n"
    path.write_bytes(text.encode("latin-1"))


def concordance_unknown_mrio_sector(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    path.write_text(path.read_text().replace(",electricity_heat", ",electricity", 1))


def concordance_text_weight(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    table = pd.read_csv(path)
    table["weight"] = 1.0
    table = table.astype({"weight": object})
    table.loc[table["inventory_sector"] == "power", "weight"] = "all"
    table.to_csv(path, index=False)


def concordance_missing_column(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    path.write_text(path.read_text().replace("mrio_sector", "sector", 1))


def concordance_inf_weight(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    table = pd.read_csv(path)
    table["weight"] = 1.0
    table.loc[table["inventory_sector"] == "power", "weight"] = np.inf
    table.to_csv(path, index=False)


def concordance_semicolon(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    path.write_text(path.read_text().replace(",", ";"))


# ------------------------------------------------------------------------- config
def config_latin1(ctx):
    ctx.config_text = ctx.config_text.replace("# Demo study", "# \u00e9tude d\u00e9mo", 1)
    ctx.config_bytes = ctx.config_text.encode("latin-1")


def config_symlink_loop(ctx):
    ctx.config = ctx.tmp / "loop.toml"
    ctx.config.symlink_to(ctx.config.name)


def config_empty(ctx):
    ctx.config_text = ""


def config_inputs_loop(ctx):
    ctx.edit('global = "mrio/global"', 'global = "mrio/looped"')
    (ctx.inputs / "mrio" / "looped").symlink_to("looped")


def out_symlink_loop(ctx):
    ctx.out = ctx.tmp / "out-loop"
    ctx.out.symlink_to(ctx.out.name)


def inputs_symlink_loop(ctx):
    ctx.edit('inputs = "../demo-inputs"', 'inputs = "loop-inputs"')
    (ctx.tmp / "loop-inputs").symlink_to("loop-inputs")
    ctx.inputs_flag = False


def out_inside_inputs(ctx):
    ctx.out = ctx.inputs / "mrio" / "results"


# ------------------------------------------------------------------------- boundaries
def _null_geometry(doc):
    doc["features"][3]["geometry"] = None


def _bad_crs(doc):
    doc["crs"] = {"type": "name", "properties": {"name": "EPSG:999999"}}


def _crs_not_object(doc):
    doc["crs"] = "EPSG:4326"


def _feature_not_object(doc):
    doc["features"][2] = "CN-XX"


def _duplicate_code(doc):
    doc["features"][1]["properties"]["code"] = doc["features"][0]["properties"]["code"]


def _bad_coordinates(doc):
    doc["features"][4]["geometry"] = {"type": "Polygon", "coordinates": [[["a", "b"]]]}


# ------------------------------------------------------------------------- OS errors
def os_error(number: int, function: str = "pipeline.workflow.stages.load_mrio"):
    """Raise ``OSError(number)`` naming a file when the run first reads the MRIO."""

    def corrupt(ctx):
        name = ctx.inputs / "mrio" / "global" / "Z.csv"

        def fail(*_args, **_kwargs):
            raise OSError(number, os.strerror(number), str(name))

        ctx.monkeypatch.setattr(function, fail)

    return corrupt


def disk_full_writing_store(ctx):
    """ENOSPC from the zarr write of the first store, after inputs are checked."""
    import xarray as xr

    def full(self, store=None, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(store))

    ctx.monkeypatch.setattr(xr.Dataset, "to_zarr", full)


CONC = "inventory_concordance.csv"
NEEDS_FIX = ("fix",)
CASES = {
    # inventory
    "inventory-corrupt-tile": Case(
        inventory_corrupt_tile, ("cement.tif", "block", "damaged"), slow=True
    ),
    "inventory-zero-bytes": Case(inventory_zero_bytes, ("power.tif", "cannot read")),
    "inventory-symlink-loop": Case(inventory_symlink_loop, ("transport.tif", "link", "loop")),
    "inventory-is-directory": Case(inventory_is_directory, ("services.tif", "directory")),
    "inventory-inf": Case(
        _set_cells("iron_steel", np.inf, ((10, 10), (11, 12))),
        ("iron_steel.tif", "infinite", "row", "nodata"),
        slow=True,
    ),
    "inventory-minus-inf": Case(
        _set_cells("cement", -np.inf), ("cement.tif", "infinite", "nodata"), slow=True
    ),
    "inventory-inf-not-nodata": Case(
        inventory_inf_nodata_declared_other, ("chemicals.tif", "infinite"), slow=True
    ),
    "inventory-overflow-after-units": Case(
        inventory_overflow_after_units,
        ("power.tif", "overflow", "Mt CO2/cell/yr", "units"),
        slow=True,
    ),
    "inventory-total-overflows": Case(
        _set_cells("services", 1.5e308, ((30, 30), (31, 31))),
        ("services.tif", "overflow"),
        slow=True,
    ),
    # MRIO
    "mrio-unknown-unit": Case(
        _write_bytes("mrio/global/units.csv", b"stressor,unit\nCO2,bananas\n"),
        ("mrio/global", "[bananas]", "convert"),
    ),
    "mrio-text-cell-in-Z": Case(
        _set_entry(_global, "Z", ("JPN", "services"), ("KOR", "food"), "n.a."),
        ("Z.csv", "'n.a.'", "JPN", "KOR", "number"),
    ),
    "mrio-text-cell-in-provincial-Y": Case(
        _set_entry(_provincial, "Y", ("CN-BJ", "mining"), ("CN-BJ", "households"), "-"),
        ("provincial/Y.csv", "'-'", "CN-BJ", "mining"),
    ),
    "mrio-semicolon-csv": Case(mrio_semicolon, ("Z.csv", "comma", "';'")),
    "mrio-inf-in-Z": Case(
        _set_entry(_global, "Z", ("USA", "food"), ("CHN", "mining"), np.inf),
        ("in Z", "USA", "food", "CHN", "mining"),
    ),
    "mrio-nan-in-Y": Case(
        _set_entry(_global, "Y", ("JPN", "food"), ("KOR", "households"), np.nan),
        ("in Y", "JPN", "food", "households"),
    ),
    "mrio-inf-in-F": Case(
        _set_entry(_global, "F", "CO2", ("HKG", "mining"), np.inf), ("in F", "HKG", "mining")
    ),
    "mrio-nan-in-x": Case(
        _set_entry(_global, "x", ("USA", "services"), "x", np.nan), ("in x", "USA", "services")
    ),
    "mrio-inf-in-provincial-Z": Case(
        _set_entry(_provincial, "Z", ("CN-SD", "mining"), ("CN-BJ", "food"), -np.inf),
        ("provincial", "in Z", "CN-SD", "CN-BJ"),
    ),
    "mrio-negative-x": Case(
        _set_entry(_global, "x", ("USA", "services"), "x", -1.0),
        ("x", "USA", "services", "negative"),
    ),
    "mrio-empty-units": Case(mrio_empty_units, ("units.csv", "empty", "stressor,unit")),
    "mrio-units-wrong-delimiter": Case(mrio_units_header_only, ("units.csv", "stressor,unit")),
    "mrio-units-latin1": Case(mrio_units_latin1, ("units.csv", "UTF-8")),
    "mrio-latin1-label": Case(mrio_latin1_label, ("provincial/F.csv", "UTF-8")),
    "mrio-missing-Y-row": Case(mrio_missing_y_row, ("Y.csv", "KOR", "food", "missing")),
    "mrio-extra-Z-column": Case(mrio_extra_z_column, ("Z.csv", "ATL", "drop it")),
    "mrio-empty-Z": Case(mrio_empty_z, ("Z.csv", "empty")),
    "mrio-header-only-Z": Case(mrio_header_only_z, ("Z.csv", "no rows")),
    "mrio-no-stressor-row": Case(mrio_no_stressor_row, ("F.csv", "'CO2'")),
    "mrio-duplicate-Y-column": Case(mrio_duplicate_y_column, ("Y.csv", "duplicate")),
    # concordance
    "concordance-empty": Case(_write_bytes(CONC, b""), (CONC, "empty", "inventory_sector")),
    "concordance-header-only": Case(concordance_header_only, (CONC, "have no row")),
    "concordance-latin1": Case(concordance_latin1, (CONC, "UTF-8", "line")),
    "concordance-unknown-mrio-sector": Case(concordance_unknown_mrio_sector, (CONC, "electricity")),
    "concordance-text-weight": Case(concordance_text_weight, (CONC, "weight", "'all'", "power")),
    "concordance-missing-column": Case(concordance_missing_column, (CONC, "mrio_sector")),
    "concordance-inf-weight": Case(concordance_inf_weight, (CONC, "power", "weight")),
    "concordance-semicolon": Case(concordance_semicolon, (CONC, "comma", "';'")),
    "sector-concordance-empty": Case(
        _write_bytes("mrio/sector_concordance.csv", b""),
        ("sector_concordance.csv", "empty"),
    ),
    # config and paths
    "config-latin1": Case(config_latin1, ("study.toml", "UTF-8", "line")),
    "config-symlink-loop": Case(config_symlink_loop, ("loop.toml", "loop")),
    "config-empty": Case(config_empty, ("study.toml", "required")),
    "mrio-dir-symlink-loop": Case(config_inputs_loop, ("looped", "loop")),
    "out-symlink-loop": Case(out_symlink_loop, ("out-loop", "--out")),
    "inputs-symlink-loop": Case(inputs_symlink_loop, ("loop-inputs", "loop")),
    "out-inside-inputs": Case(out_inside_inputs, ("results", "inside", "--out")),
    "config-memory-limit-garbage": Case(
        _edit('memory_limit = "1.5GiB"', 'memory_limit = "lots"'),
        ("memory_limit", "'lots'", "3GiB"),
    ),
    "config-chunks-negative": Case(
        _edit("[inventory.files]", "chunks = -64\n[inventory.files]"),
        ("[inventory] chunks", "-64", "out of range"),
    ),
    "config-hotspot-zero": Case(
        _edit("hotspot_share = 0.75", "hotspot_share = 0.0"),
        ("[output] hotspot_share", "out of range"),
    ),
    "config-chunk-memory-zero": Case(
        _edit("chunk_memory_mb = 128", "chunk_memory_mb = 0"),
        ("[output] chunk_memory_mb", "out of range"),
    ),
    "config-chunk-memory-inf": Case(
        _edit("chunk_memory_mb = 128", "chunk_memory_mb = inf"),
        ("[output] chunk_memory_mb", "out of range"),
    ),
    # CLI flags
    "flag-memory-limit-garbage": Case(
        lambda ctx: None, ("--memory-limit", "'garbage'", "3GiB"), ("--memory-limit", "garbage")
    ),
    "flag-scheduler-not-an-address": Case(
        lambda ctx: None,
        ("--scheduler", "not-an-address", "tcp://"),
        ("--scheduler", "not-an-address"),
    ),
    "flag-workers-negative": Case(
        lambda ctx: None, ("--workers", "-2", ">= 1"), ("--workers", "-2")
    ),
    "flag-threads-zero": Case(lambda ctx: None, ("--threads", "0", ">= 1"), ("--threads", "0")),
    # boundaries
    "boundaries-bare-list": Case(
        _geojson(lambda doc: doc["features"]), ("china_provinces.geojson", "FeatureCollection")
    ),
    "boundaries-null-geometry": Case(
        _geojson(_null_geometry), ("china_provinces.geojson", "feature 3", "geometry")
    ),
    "boundaries-bad-crs": Case(_geojson(_bad_crs), ("china_provinces.geojson", "crs", "999999")),
    "boundaries-crs-not-object": Case(
        _geojson(_crs_not_object), ("china_provinces.geojson", "crs")
    ),
    "boundaries-feature-not-object": Case(
        _geojson(_feature_not_object), ("china_provinces.geojson", "feature 2")
    ),
    "boundaries-duplicate-code": Case(_geojson(_duplicate_code), ("duplicate region codes",)),
    "boundaries-bad-coordinates": Case(
        _geojson(_bad_coordinates), ("china_provinces.geojson", "feature 4", "geometry")
    ),
    "boundaries-not-json": Case(
        _write_bytes("boundaries/china_provinces.geojson", b"\x00\x01 not json"),
        ("china_provinces.geojson", "GeoJSON"),
    ),
    "boundaries-latin1": Case(
        _write_bytes(
            "boundaries/china_provinces.geojson",
            '{"type": "FeatureCollection", "name": "\u00e9", "features": []}'.encode("latin-1"),
        ),
        ("china_provinces.geojson", "UTF-8"),
    ),
    # OS errors, mapped by the CLI
    "os-enospc-writing-store": Case(
        disk_full_writing_store, ("No space left", "ENOSPC", "free disk space"), slow=True
    ),
    "os-eacces": Case(os_error(errno.EACCES), ("Z.csv", "Permission denied", "EACCES")),
    "os-eio": Case(os_error(errno.EIO), ("Z.csv", "EIO", "I/O error")),
    "os-eloop": Case(os_error(errno.ELOOP), ("Z.csv", "ELOOP", "loop")),
    "os-enospc": Case(os_error(errno.ENOSPC), ("Z.csv", "ENOSPC", "free disk space")),
}
