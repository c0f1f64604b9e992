"""A table of malformed inputs through the real CLI (issue #6).

Every case corrupts a private copy of the coarse demo inputs and/or of
``config/demo.toml`` and asserts the CLI contract for bad input: exit status 2,
exactly one stderr line ``error: ...`` that names the input (file, label, row or
key) and says what to do, and no new or changed result: ``--out`` first holds a
good previous result (a copy of the session's shared demo run), which must stay
byte for byte as it was. More cases (issue #11) are in :mod:`helpers.bad_input_cases`.

Most cases fail while the inputs are loaded, before any cluster starts; the few
that need the grid (NaN/negative cells, regions) start a one-worker LocalCluster.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from helpers.bad_input_cases import CASES as MORE_CASES
from helpers.demo_inputs import build_coarse_demo, copy_inputs

from pipeline.cli.app import main
from pipeline.resources import config_file


@pytest.fixture(scope="module")
def pristine_inputs(tmp_path_factory):
    return build_coarse_demo(tmp_path_factory.mktemp("demo"))


@dataclass
class Ctx:
    """What a case may corrupt: the inputs copy, the config text, the paths passed."""

    inputs: Path
    tmp: Path
    config_text: str
    config: Path
    out: Path
    monkeypatch: pytest.MonkeyPatch | None = None
    config_bytes: bytes | None = None
    flags: list[str] = field(default_factory=list)
    #: pass --inputs (a case may instead rely on [study] inputs)
    inputs_flag: bool = True

    def edit(self, old: str, new: str) -> None:
        assert old in self.config_text, old
        self.config_text = self.config_text.replace(old, new, 1)


# ---------------------------------------------------------------------------- helpers
def tif(ctx: Ctx, sector: str) -> Path:
    return ctx.inputs / "inventory" / f"{sector}.tif"


def rewrite_tif(path: Path, change: Callable[[np.ndarray, dict], tuple[np.ndarray, dict]]):
    with rasterio.open(path) as src:
        data, profile, tags = src.read(1), src.profile, src.tags()
    data, profile = change(data, dict(profile))
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(**tags)


def read_matrix(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, header=[0, 1], index_col=[0, 1])


def read_vector(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col=[0, 1])


def geojson_edit(ctx: Ctx, change: Callable[[dict], None]) -> None:
    path = ctx.inputs / "boundaries" / "china_provinces.geojson"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


# ---------------------------------------------------------------------------- cases
def config_typo(ctx):
    ctx.edit("hotspot_share = ", "hotspot_shares = ")


def config_wrong_type(ctx):
    ctx.edit('units = "t CO2/cell/yr"', 'units = "t CO2/cell/yr"\nchunks = "big"')


def config_unknown_section(ctx):
    ctx.config_text += "\n[outputs]\nmaps = false\n"


def config_invalid_choice(ctx):
    ctx.edit('dtype = "float64"', 'dtype = "float16"')


def config_not_toml(ctx):
    ctx.edit("[concordance]", "[concordance")


def config_missing(ctx):
    ctx.config = ctx.tmp / "missing-study.toml"


def inventory_missing(ctx):
    tif(ctx, "cement").unlink()


def inventory_garbage(ctx):
    tif(ctx, "power").write_bytes(b"this is not a GeoTIFF\x00\x01\x02" * 64)


def inventory_without_crs(ctx):
    def drop_crs(data, profile):
        profile["crs"] = None
        return data, profile

    rewrite_tif(tif(ctx, "transport"), drop_crs)


def inventory_shifted(ctx):
    def shift(data, profile):
        t = profile["transform"]
        profile["transform"] = rasterio.Affine(t.a, t.b, t.c + t.a, t.d, t.e, t.f)
        return data, profile

    rewrite_tif(tif(ctx, "chemicals"), shift)


def inventory_other_shape(ctx):
    def crop(data, profile):
        profile["height"] -= 1
        return data[:-1], profile

    rewrite_tif(tif(ctx, "services"), crop)


def inventory_nan(ctx):
    def nan(data, profile):
        data = data.copy()
        data[40, 40:45] = np.nan
        return data, profile

    rewrite_tif(tif(ctx, "iron_steel"), nan)


def inventory_negative(ctx):
    def negative(data, profile):
        data = data.copy()
        data[30, 50] = -5.0
        return data, profile

    rewrite_tif(tif(ctx, "other_industry"), negative)


def inventory_unknown_units(ctx):
    ctx.edit('units = "t CO2/cell/yr"', 'units = "bananas"')


def mrio_unbalanced(ctx):
    path = ctx.inputs / "mrio" / "provincial" / "x.csv"
    x = read_vector(path)
    x.loc[("CN-SD", "metal_smelting"), "x"] *= 1.5
    x.to_csv(path)


def mrio_singular(ctx):
    """Column (USA, mining) of A sums to > 1; the row stays balanced (Y absorbs it)."""
    base = ctx.inputs / "mrio" / "global"
    Z, Y, x = read_matrix(base / "Z.csv"), read_matrix(base / "Y.csv"), read_vector(base / "x.csv")
    label = ("USA", "mining")
    d = 2.0 * float(x.loc[label, "x"])
    Z.loc[label, label] += d
    Y.loc[label, Y.columns[Y.columns.get_level_values(0) == "USA"][0]] -= d
    Z.to_csv(base / "Z.csv")
    Y.to_csv(base / "Y.csv")


def mrio_duplicate_label(ctx):
    path = ctx.inputs / "mrio" / "provincial" / "Z.csv"
    lines = path.read_text().splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if line.startswith("CN-BJ,mining,"))
    lines[n] = lines[n].replace("CN-BJ,mining,", "CN-BJ,agriculture,", 1)
    path.write_text("".join(lines))


def mrio_nan_in_z(ctx):
    path = ctx.inputs / "mrio" / "global" / "Z.csv"
    Z = read_matrix(path)
    Z.loc[("JPN", "services"), ("KOR", "food")] = np.nan
    Z.to_csv(path)


def mrio_zero_output(ctx):
    """Province-sector (CN-BJ, metal_smelting) keeps emissions (F) but has no output."""
    base = ctx.inputs / "mrio" / "provincial"
    label = ("CN-BJ", "metal_smelting")
    Z, Y = read_matrix(base / "Z.csv"), read_matrix(base / "Y.csv")
    x, exports = read_vector(base / "x.csv"), read_vector(base / "exports.csv")
    x["x"] -= Z[label].to_numpy()  # the other rows lose their sales to it
    Z[label] = 0.0
    Z.loc[label] = 0.0
    Y.loc[label] = 0.0
    exports.loc[label] = 0.0
    x.loc[label] = 0.0
    for name, frame in (("Z", Z), ("Y", Y), ("x", x), ("exports", exports)):
        frame.to_csv(base / f"{name}.csv")


def subnational_other_units(ctx):
    """The provincial table in 10^4 yuan where the global one is in M USD (x 1.6)."""
    base = ctx.inputs / "mrio" / "provincial"
    for name in ("Z", "Y"):
        (read_matrix(base / f"{name}.csv") * 1.6).to_csv(base / f"{name}.csv")
    for name in ("x", "exports", "imports"):
        (read_vector(base / f"{name}.csv") * 1.6).to_csv(base / f"{name}.csv")


def mrio_missing_file(ctx):
    (ctx.inputs / "mrio" / "global" / "Y.csv").unlink()


def sector_concordance_loses_output(ctx):
    path = ctx.inputs / "mrio" / "sector_concordance.csv"
    table = pd.read_csv(path)
    table.loc[table["sub_sector"] == "chemicals", "weight"] = 0.5
    table.to_csv(path, index=False)


def concordance_gap(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    table = pd.read_csv(path)
    table[table["inventory_sector"] != "transport"].to_csv(path, index=False)


def concordance_double_counts(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    table = pd.read_csv(path)
    table["weight"] = 1.0
    table.loc[table["inventory_sector"] == "chemicals", "weight"] = 0.6  # two rows: 1.2
    table.loc[table["inventory_sector"] == "other_industry", "weight"] = 1 / 6
    table.loc[table["inventory_sector"] == "services", "weight"] = 0.5
    table.to_csv(path, index=False)


def region_without_mrio_rows(ctx):
    def rename(doc):
        for feature in doc["features"]:
            if feature["properties"]["code"] == "CN-SD":
                feature["properties"]["code"] = "CN-XX"

    geojson_edit(ctx, rename)


def emissions_outside_regions(ctx):
    def drop(doc):
        doc["features"] = [f for f in doc["features"] if f["properties"]["code"] != "CN-SC"]

    geojson_edit(ctx, drop)


def boundaries_without_code_field(ctx):
    def strip(doc):
        for feature in doc["features"]:
            feature["properties"].pop("code")

    geojson_edit(ctx, strip)


def boundaries_missing(ctx):
    (ctx.inputs / "boundaries" / "china_provinces.geojson").unlink()


def out_not_writable(ctx):
    locked = ctx.tmp / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores the mode: nest under a regular file
        blocker = ctx.tmp / "a-file.txt"
        blocker.write_text("not a directory\n")
        ctx.out = blocker / "out"
    else:
        ctx.out = locked / "out"


def config_value(section_line: str, new: str):
    """A case that replaces one config line (``old`` must be in config/demo.toml)."""

    def corrupt(ctx):
        ctx.edit(section_line, new)

    return corrupt


def concordance_negative_weight(ctx):
    path = ctx.inputs / "inventory_concordance.csv"
    table = pd.read_csv(path)
    table["weight"] = np.nan
    chem = table.index[table["inventory_sector"] == "chemicals"]
    table.loc[chem, "weight"] = [1.5, -0.5][: len(chem)] if len(chem) == 2 else 1.0
    table.to_csv(path, index=False)


@dataclass(frozen=True)
class Case:
    corrupt: Callable[[Ctx], None]
    needles: tuple[str, ...]
    flags: tuple[str, ...] = ()


# Each case: the needles name the input (file, key, label or row) and the fix.
CASES = {
    "config-typo": Case(config_typo, ("hotspot_shares", "did you mean 'hotspot_share'")),
    "config-wrong-type": Case(
        config_wrong_type, ("[inventory] chunks", "'big'", "of type int", "fix")
    ),
    "config-unknown-section": Case(config_unknown_section, ("'outputs'", "did you mean 'output'")),
    "config-invalid-choice": Case(
        config_invalid_choice, ("[output] dtype", "'float16'", "choose one of")
    ),
    "config-not-toml": Case(config_not_toml, ("study.toml", "not valid TOML")),
    "config-missing": Case(config_missing, ("missing-study.toml", "not found")),
    "inventory-missing": Case(inventory_missing, ("cement.tif", "not found", "[inventory] files")),
    "inventory-garbage": Case(inventory_garbage, ("power.tif", "cannot read", "valid GeoTIFF")),
    "inventory-no-crs": Case(inventory_without_crs, ("transport.tif", "CRS")),
    "inventory-shifted": Case(inventory_shifted, ("chemicals.tif", "transform", "regrid")),
    "inventory-other-shape": Case(inventory_other_shape, ("services.tif", "shape", "regrid")),
    "inventory-nan": Case(inventory_nan, ("iron_steel.tif", "5 cells", "NaN", "nodata")),
    "inventory-negative": Case(inventory_negative, ("other_industry.tif", "negative", "nodata")),
    "inventory-unknown-units": Case(inventory_unknown_units, ("bananas", "units")),
    "mrio-unbalanced": Case(mrio_unbalanced, ("CN-SD", "metal_smelting", "balance")),
    "mrio-singular": Case(mrio_singular, ("USA", "mining", "singular", "check")),
    "mrio-duplicate-label": Case(
        mrio_duplicate_label, ("Z.csv", "duplicate", "agriculture", "unique")
    ),
    "mrio-nan-in-Z": Case(mrio_nan_in_z, ("mrio/global", "in Z", "JPN", "KOR", "fix")),
    "mrio-zero-output": Case(mrio_zero_output, ("CN-BJ", "metal_smelting", "zero output")),
    "mrio-missing-file": Case(mrio_missing_file, ("Y.csv",)),
    "subnational-totals-disagree": Case(
        subnational_other_units,
        ("mrio/provincial", "'CHN' block", "60.0%", "total_rtol = 0.1", "units"),
    ),
    "sector-concordance-loses-output": Case(
        sector_concordance_loses_output,
        ("[mrio] sector_concordance", "chemicals", "loses", "sum to 1"),
    ),
    "concordance-gap": Case(concordance_gap, ("inventory_concordance.csv", "'transport'")),
    "concordance-double-counts": Case(
        concordance_double_counts, ("inventory_concordance.csv", "chemicals", "1.2")
    ),
    "region-without-mrio-rows": Case(region_without_mrio_rows, ("CN-XX", "no rows", "aliases")),
    "emissions-outside-regions": Case(
        emissions_outside_regions, ("china_provinces.geojson", "outside", "[regions] outside")
    ),
    "boundaries-without-code-field": Case(
        boundaries_without_code_field, ("china_provinces.geojson", "code")
    ),
    "boundaries-missing": Case(boundaries_missing, ("china_provinces.geojson", "not found")),
    "out-not-writable": Case(out_not_writable, ("out", "not writable", "--out")),
    "config-hotspot-above-1": Case(
        config_value("hotspot_share = 0.75", "hotspot_share = 1.5"),
        ("[output] hotspot_share", "1.5", "out of range", "(0, 1)"),
    ),
    "config-hotspot-nan": Case(
        config_value("hotspot_share = 0.75", "hotspot_share = nan"),
        ("[output] hotspot_share", "nan", "out of range"),
    ),
    "config-chunk-memory-negative": Case(
        config_value("chunk_memory_mb = 128", "chunk_memory_mb = -5"),
        ("[output] chunk_memory_mb", "-5", "out of range"),
    ),
    "config-chunks-zero": Case(
        config_value("[inventory.files]", "chunks = 0\n[inventory.files]"),
        ("[inventory] chunks", "= 0", "[16,"),
    ),
    "config-workers-zero": Case(
        config_value("n_workers = 2", "n_workers = 0"),
        ("[cluster] n_workers", "= 0", "out of range"),
    ),
    "config-threads-zero": Case(
        config_value("threads_per_worker = 1", "threads_per_worker = 0"),
        ("[cluster] threads_per_worker", "= 0", "out of range"),
    ),
    "config-balance-rtol-zero": Case(
        config_value('method = "auto"', 'method = "auto"\nbalance_rtol = 0.0'),
        ("[mrio] balance_rtol", "out of range"),
    ),
    "concordance-negative-weight": Case(
        concordance_negative_weight,
        ("inventory_concordance.csv", "chemicals", "outside [0, 1]"),
    ),
}


CASES.update(MORE_CASES)


def result_state(out: Path) -> dict[str, str] | None:
    """What ``out`` publishes: the ``.current`` link and a digest of every result file."""
    current = out / ".current"
    if not current.is_symlink():
        return None
    state = {".current": os.readlink(current)}
    for path in sorted(current.resolve().rglob("*")):
        if path.is_file():
            state[str(path.relative_to(current.resolve()))] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return state


def _write_config(ctx: Ctx) -> None:
    if ctx.config.parent == ctx.tmp and ctx.config.name == "study.toml":
        if ctx.config_bytes is not None:
            ctx.config.write_bytes(ctx.config_bytes)
        else:
            ctx.config.write_text(ctx.config_text)


def _param(name: str):
    case = CASES[name]
    marks = []
    if getattr(case, "xfail", ""):
        marks.append(pytest.mark.xfail(reason=case.xfail, strict=True))
    return pytest.param(name, marks=marks)


@pytest.mark.parametrize("name", [_param(name) for name in CASES])
def test_bad_input_fails_cleanly(
    name, pristine_inputs, shared_results, tmp_path, capsys, monkeypatch
):
    case = CASES[name]
    inputs = copy_inputs(pristine_inputs, tmp_path)
    ctx = Ctx(
        inputs=inputs,
        tmp=tmp_path,
        config_text=config_file("demo.toml").read_text(),
        config=tmp_path / "study.toml",
        out=tmp_path / "out",
        monkeypatch=monkeypatch,
        flags=list(case.flags),
    )
    case.corrupt(ctx)
    _write_config(ctx)
    seeded = ctx.out == tmp_path / "out"
    if seeded:  # a good previous result that the failing run must leave as it was
        shutil.copytree(shared_results, ctx.out, symlinks=True)
    before = result_state(ctx.out) if seeded else None
    argv = ["run", str(ctx.config), "--out", str(ctx.out)]
    argv += ["--inputs", str(inputs)] if ctx.inputs_flag else []
    try:
        code = main([*argv, "--workers", "1", "--no-maps", *ctx.flags])
    finally:
        (tmp_path / "locked").exists() and (tmp_path / "locked").chmod(0o700)
        monkeypatch.undo()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1, err
    assert err[0].startswith("error: "), err
    for needle in case.needles:
        assert needle in err[0], f"{needle!r} not in {err[0]!r}"
    if seeded:
        assert before is not None
        assert result_state(ctx.out) == before, "the previous result changed"
    else:
        assert not (ctx.out / "footprint.zarr").exists()


def test_bad_input_table_size():
    """Issue #11: at least 60 kinds of bad input."""
    assert len(CASES) >= 60


# ---------------------------------------------------------------------------- valid but odd
def _text_files(inputs: Path) -> list[Path]:
    return [
        *inputs.rglob("*.csv"),
        *(inputs / "boundaries").glob("*.geojson"),
    ]


def with_bom(ctx: Ctx) -> None:
    """A UTF-8 byte order mark at the start of every CSV, the GeoJSON and the config."""
    for path in _text_files(ctx.inputs):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    ctx.config_bytes = b"\xef\xbb\xbf" + ctx.config_text.encode()


def with_crlf(ctx: Ctx) -> None:
    """Windows line endings in every CSV, the GeoJSON and the config."""
    for path in _text_files(ctx.inputs):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    ctx.config_bytes = ctx.config_text.replace("\n", "\r\n").encode()


def with_huge_chunks(ctx: Ctx) -> None:
    ctx.edit("[inventory.files]", "chunks = 1000000\n[inventory.files]")


def with_nan_nodata(ctx: Ctx) -> None:
    """Power declares NaN as nodata and has NaN cells: they read as zero."""

    def nan_nodata(data, profile):
        profile["nodata"] = np.nan
        data = data.copy()
        data[40, 40:45] = np.nan
        return data, profile

    rewrite_tif(tif(ctx, "power"), nan_nodata)


ODD_BUT_VALID = {
    "utf8-bom": (with_bom, True),
    "crlf-line-endings": (with_crlf, True),
    "huge-chunks": (with_huge_chunks, True),
    "nan-nodata": (with_nan_nodata, False),
}


def _numbers(value) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [float(value)] if isinstance(value, int | float) else []


@pytest.mark.parametrize("name", list(ODD_BUT_VALID))
def test_odd_but_valid_input_succeeds(name, pristine_inputs, shared_results, tmp_path, capsys):
    """A BOM, CRLF, a huge ``chunks`` and NaN nodata give a complete, finite result."""
    corrupt, same_total = ODD_BUT_VALID[name]
    inputs = copy_inputs(pristine_inputs, tmp_path)
    ctx = Ctx(
        inputs,
        tmp_path,
        config_file("demo.toml").read_text(),
        tmp_path / "study.toml",
        tmp_path / "out",
    )
    corrupt(ctx)
    _write_config(ctx)
    argv = ["run", str(ctx.config), "--inputs", str(inputs), "--out", str(ctx.out)]
    code = main([*argv, "--workers", "1", "--no-maps"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "error" not in err and "Traceback" not in err, err
    summary = json.loads((ctx.out / "summary.json").read_text())
    assert all(np.isfinite(_numbers(summary)))
    baseline = json.loads((shared_results / "summary.json").read_text())
    total = summary["foreign_total_t"] + summary["domestic_total_t"]
    expected = baseline["foreign_total_t"] + baseline["domestic_total_t"]
    if same_total:
        assert total == pytest.approx(expected, rel=1e-9)
    else:
        assert 0 < total < expected


# ---------------------------------------------------------------------------- internal errors
def test_internal_error_is_one_line_with_a_log(pristine_inputs, tmp_path, capsys, monkeypatch):
    """A bug prints one ``internal error:`` line naming a log file with the traceback."""

    def bug(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero in a reader")

    monkeypatch.setattr("pipeline.workflow.stages.load_mrio", bug)
    out = tmp_path / "out"
    argv = [
        "run",
        str(config_file("demo.toml")),
        "--inputs",
        str(pristine_inputs),
        "--out",
        str(out),
    ]
    code = main([*argv, "--workers", "1", "--no-maps"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("internal error: ZeroDivisionError"), err
    log = Path(err[0].rsplit("the traceback is in ", 1)[1])
    assert "Traceback" in log.read_text() and "division by zero in a reader" in log.read_text()
    assert not (out / "footprint.zarr").exists()
