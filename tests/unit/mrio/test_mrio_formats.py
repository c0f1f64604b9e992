"""Loaders: small files in each real format, parsed by pymrio, loaded via load_global.

GLORIA (a supply-use release: zips of per-matrix CSVs plus the ReadMe workbook) has
its own module, ``test_gloria_files.py``, with the file generator in
``helpers/gloria_files.py``; ``test_from_pymrio_a_only`` below checks the same A-and-Y-only
path through ``from_pymrio`` on an in-memory system, without any files.
"""

import json

import numpy as np
import pandas as pd
import pymrio
import pytest
from helpers.pymrio_oracle import assert_matches_pymrio

from pipeline.errors import InputFileError, MRIOError
from pipeline.mrio import MRIO, attribute, from_pymrio, load_global, write_netcdf, write_plain
from pipeline.mrio.pymrio_adapter import resolve_stressor

REGIONS = ["AUT", "DEU", "CHN"]
SECTORS = ["A01", "C10T12", "D35"]
CATS = ["HFCE", "GGFC", "GFCF"]


def truth(seed: int = 3) -> MRIO:
    """A small balanced 3 x 3 system with a CO2 row (the content of every file)."""
    rng = np.random.default_rng(seed)
    rows = pd.MultiIndex.from_product([REGIONS, SECTORS], names=["region", "sector"])
    cols = pd.MultiIndex.from_product([REGIONS, CATS], names=["region", "category"])
    Z = np.round(rng.uniform(0, 10, (9, 9)), 3)
    Y = np.round(rng.uniform(5, 20, (9, 9)), 3)
    return MRIO(
        Z=Z,
        Y=Y,
        x=Z.sum(1) + Y.sum(1),
        F=np.round(rng.uniform(1, 50, 9), 3),
        F_Y=np.round(rng.uniform(0, 5, 9), 3),
        rows=rows,
        fd_columns=cols,
        stressor="CO2",
        unit="kg",
    ).validate()


# ----------------------------------------------------------------------------- EXIOBASE 3
def exiobase_io(t: MRIO, *, with_z: bool = True) -> pymrio.IOSystem:
    """An IOSystem laid out as the EXIOBASE 3 release (extension 'satellite')."""
    stress = pd.Index(["CO2 - combustion - air", "CH4 - combustion - air"], name="stressor")
    F = pd.DataFrame(np.vstack([t.F, 0.1 * t.F]), index=stress, columns=t.rows)
    F_Y = pd.DataFrame(np.vstack([t.F_Y, 0 * t.F_Y]), index=stress, columns=t.fd_columns)
    io = pymrio.IOSystem(
        Z=pd.DataFrame(t.Z, index=t.rows, columns=t.rows),
        Y=pd.DataFrame(t.Y, index=t.rows, columns=t.fd_columns),
        unit=pd.DataFrame({"unit": "M.EUR"}, index=t.rows),
        satellite={
            "name": "satellite",
            "F": F,
            "F_Y": F_Y,
            "unit": pd.DataFrame({"unit": ["kg", "kg"]}, index=stress),
        },
        name="EXIO3-test",
    )
    io.calc_system()
    if not with_z:
        io.Z = None
    return io


@pytest.mark.parametrize("layout", ["folder", "zip", "folder-without-Z"])
def test_exiobase3_files(tmp_path, layout):
    t = truth()
    io = exiobase_io(t, with_z=layout != "folder-without-Z")
    io.save_all(tmp_path / "IOT_2019_ixi")
    path = tmp_path / "IOT_2019_ixi"
    assert json.loads((path / "file_parameters.json").read_text())["systemtype"] == "IOSystem"
    if layout == "zip":
        pymrio.archive(path, tmp_path / "IOT_2019_ixi.zip")
        path = tmp_path / "IOT_2019_ixi.zip"
    m = load_global(path, format="exiobase3", stressor="CO2 - combustion - air")
    # the parser renames 3-letter to EXIOBASE's 2-letter codes
    assert m.regions == ("AT", "DE", "CN") and m.unit == "kg"
    np.testing.assert_allclose(m.Z.toarray() if hasattr(m.Z, "toarray") else m.Z, t.Z)
    np.testing.assert_allclose(m.F, t.F)
    np.testing.assert_allclose(m.F_Y, t.F_Y)
    assert_matches_pymrio(m, pymrio.parse_exiobase3(path), "satellite", "CO2 - combustion - air")


# ----------------------------------------------------------------------------- Eora26
def _tsv(path, rows) -> None:
    path.write_text("\n".join("\t".join(map(str, r)) for r in rows) + "\n")


def write_eora26(t: MRIO, d) -> None:
    """Eora26 unpacked folder: data matrices and label files, tab separated, no header."""
    full = {"AUT": "Austria", "DEU": "Germany", "CHN": "China"}
    d.mkdir()
    _tsv(d / "labels_T.txt", [[full[r], r, "Industries", s] for r, s in t.rows])
    _tsv(d / "labels_FD.txt", [[full[r], r, "Final Demand", c] for r, c in t.fd_columns])
    _tsv(d / "labels_Q.txt", [["CO2 (Gg)", "Total"], ["CO2 (Gg)", "Energy"], ["CH4 (Gg)", "Total"]])
    _tsv(d / "labels_VA.txt", [["Primary input", "Compensation of employees D.1"]])
    va = t.x - t.Z.sum(axis=0)
    Q = np.vstack([t.F, 0.5 * t.F, 0.1 * t.F])
    QY = np.vstack([t.F_Y, 0 * t.F_Y, 0 * t.F_Y])
    for key, mat in {"T": t.Z, "FD": t.Y, "Q": Q, "QY": QY, "VA": va[None, :]}.items():
        _tsv(d / f"Eora26_2015_bp_{key}.txt", [[repr(float(v)) for v in r] for r in mat])


def test_eora26_folder(tmp_path):
    t = truth()
    write_eora26(t, tmp_path / "eora")
    m = load_global(tmp_path / "eora", format="eora26", stressor="CO2|Total", year=2015)
    assert m.rows.equals(t.rows) and m.fd_columns.equals(t.fd_columns)
    assert m.stressor == "CO2/Total" and m.unit == "Gg"
    np.testing.assert_allclose(m.F, t.F)
    io = pymrio.parse_eora26(tmp_path / "eora", year=2015)
    assert_matches_pymrio(m, io, "Q", ("CO2", "Total"))
    # a name with several sources is ambiguous; one with a single source is not
    with pytest.raises(MRIOError, match=r"'CO2' matches 2 F rows; name more levels as 'a\|b"):
        load_global(tmp_path / "eora", format="eora26", stressor="CO2", year=2015)
    ch4 = load_global(tmp_path / "eora", format="eora26", stressor="CH4", year=2015)
    np.testing.assert_allclose(ch4.F, 0.1 * t.F)


# ----------------------------------------------------------------------------- OECD ICIO
def write_oecd(t: MRIO, path) -> None:
    """One ICIO CSV: rows region_sector + TLS, VA, OUT; columns + FD + OUT."""
    names = [f"{r}_{s}" for r, s in t.rows]
    fd = [f"{r}_{c}" for r, c in t.fd_columns]
    body = np.hstack([t.Z, t.Y, t.x[:, None]])
    va = t.x - t.Z.sum(axis=0)
    tls = 0.1 * va
    extra = np.array(
        [
            np.r_[tls, np.zeros(len(fd)), 0.0],
            np.r_[va - tls, np.zeros(len(fd)), 0.0],
            np.r_[t.x, np.zeros(len(fd)), 0.0],
        ]
    )
    df = pd.DataFrame(
        np.vstack([body, extra]), index=[*names, "TLS", "VA", "OUT"], columns=[*names, *fd, "OUT"]
    )
    df.index.name = "V1"
    df.to_csv(path)


def test_oecd_icio_csv(tmp_path):
    t = truth()
    path = tmp_path / "ICIO2023_2019.csv"
    write_oecd(t, path)
    m = load_global(path, format="oecd", stressor="VA")
    assert set(m.regions) == set(REGIONS) and set(m.categories) == set(CATS)
    va = pd.Series(t.x - t.Z.sum(axis=0) - 0.1 * (t.x - t.Z.sum(axis=0)), index=t.rows)
    np.testing.assert_allclose(m.F, va.reindex(m.rows).to_numpy())
    assert_matches_pymrio(m, pymrio.parse_oecd(path), "factor_inputs", "VA")
    # folder + year picks the same file
    m2 = load_global(tmp_path, format="oecd", stressor="VA", year=2019)
    np.testing.assert_allclose(m2.Z, m.Z)


# ----------------------------------------------------------------------------- GLORIA-like
def test_from_pymrio_a_only():
    """GLORIA's parser yields A and Y only: x is solved, not read (and not inverted)."""
    t = truth()
    io = exiobase_io(t, with_z=False)
    io.x = None
    m = from_pymrio(io, stressor="CO2 - combustion - air")
    np.testing.assert_allclose(m.x, t.x, rtol=1e-12)
    np.testing.assert_allclose(m.Z, t.Z, rtol=1e-10, atol=1e-12)


def test_from_pymrio_sparse_option_same_result():
    t = truth()
    dense = from_pymrio(exiobase_io(t), stressor="CO2 - combustion - air", sparse=False)
    sparse = from_pymrio(exiobase_io(t), stressor="CO2 - combustion - air", sparse=True)
    assert hasattr(sparse.Z, "toarray") and isinstance(dense.Z, np.ndarray)
    np.testing.assert_allclose(attribute(sparse).values, attribute(dense).values, rtol=1e-12)


# ----------------------------------------------------------------------------- plain
@pytest.mark.parametrize("fmt", ["csv", "parquet", "netcdf"])
def test_plain_formats_via_load_global(tmp_path, fmt):
    t = truth()
    if fmt == "netcdf":
        path = write_netcdf(t, tmp_path / "t")
        assert path.name == "mrio.nc"
    else:
        write_plain(t, tmp_path / "t", fmt=fmt)
    m = load_global(tmp_path / "t", format="plain", stressor="CO2")
    assert m.rows.equals(t.rows) and m.fd_columns.equals(t.fd_columns) and m.unit == "kg"
    for k in ("Z", "Y", "x", "F", "F_Y"):
        np.testing.assert_allclose(getattr(m, k), getattr(t, k), rtol=1e-15, err_msg=k)
    if fmt == "netcdf":
        with pytest.raises(MRIOError, match=r"mrio\.nc: no stressor 'CH4'"):
            load_global(tmp_path / "t" / "mrio.nc", format="plain", stressor="CH4")


def test_plain_F_label_mismatch_names_file(tmp_path):
    write_plain(truth(), tmp_path)
    f = pd.read_csv(tmp_path / "F.csv", header=[0, 1], index_col=0)
    f = f.rename(columns={"D35": "E36"}, level=1)
    f.to_csv(tmp_path / "F.csv")
    with pytest.raises(MRIOError, match=r"F\.csv: column label \('AUT', 'D35'\) .* is missing"):
        load_global(tmp_path, format="plain", stressor="CO2")


def test_load_global_errors(tmp_path):
    with pytest.raises(MRIOError, match="unknown MRIO format 'exio'; use one of plain"):
        load_global(tmp_path, format="exio", stressor="CO2")
    with pytest.raises(InputFileError, match="MRIO source not found"):
        load_global(tmp_path / "nope", format="exiobase3", stressor="CO2")
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match=r"junk\.csv: pymrio\.parse_oecd failed"):
        load_global(tmp_path / "junk.csv", format="oecd", stressor="VA")
    with pytest.raises(MRIOError, match="format 'gloria' needs year="):
        load_global(tmp_path, format="gloria", stressor="CO2")
    t = truth()
    io = exiobase_io(t)
    io.save_all(tmp_path / "exio")
    with pytest.raises(MRIOError, match="stressor 'N2O' not found"):
        load_global(tmp_path / "exio", format="exiobase3", stressor="N2O")


def test_resolve_stressor_levels_quotes_and_ambiguity():
    index = pd.MultiIndex.from_tuples(
        [("CO2", "air", "fossil"), ("CO2", "air", "bio"), ("'CH4'", "air", "all")]
    )
    assert resolve_stressor(index, "CO2|air|bio") == ("CO2", "air", "bio")
    assert resolve_stressor(index, "CH4") == ("'CH4'", "air", "all")  # quotes optional
    assert resolve_stressor(index, "N2O|air") == ("N2O", "air")  # not found: caller says so
    for ambiguous in ("CO2", "CO2|air"):
        with pytest.raises(
            MRIOError, match=r"matches 2 F rows; .* CO2\|air\|fossil; CO2\|air\|bio"
        ):
            resolve_stressor(index, ambiguous)


def _plain_dir(tmp_path):
    write_plain(truth(), tmp_path / "t")
    return tmp_path / "t"


def test_plain_text_cell_names_file_row_and_column(tmp_path):
    d = _plain_dir(tmp_path)
    z = pd.read_csv(d / "Z.csv", header=[0, 1], index_col=[0, 1]).astype(object)
    row, col = z.index[1], z.columns[2]
    z.loc[row, col] = "n.a."
    z.to_csv(d / "Z.csv")
    with pytest.raises(InputFileError, match=rf"Z\.csv: the cell in row .*{row[1]}.* is 'n\.a\.'"):
        load_global(d, format="plain", stressor="CO2")


@pytest.mark.parametrize("name", ["Z", "Y", "F", "x"])
def test_plain_non_finite_entry_names_matrix_and_label(tmp_path, name):
    d = _plain_dir(tmp_path)
    text = (d / f"{name}.csv").read_text().splitlines(keepends=True)
    cells = text[-1].rstrip("\n").split(",")
    cells[-1] = "inf"
    text[-1] = ",".join(cells) + "\n"
    (d / f"{name}.csv").write_text("".join(text))
    with pytest.raises(MRIOError, match=rf"non-finite .*in {name}\b|in {name}\b.*non-finite"):
        load_global(d, format="plain", stressor="CO2")


def test_plain_csv_layout_errors(tmp_path):
    d = _plain_dir(tmp_path)
    good = (d / "Z.csv").read_text()
    (d / "Z.csv").write_text(good.replace(",", ";"))
    with pytest.raises(InputFileError, match=r"Z\.csv: columns are separated by ';', not commas"):
        load_global(d, format="plain", stressor="CO2")
    (d / "Z.csv").write_text("")
    with pytest.raises(InputFileError, match=r"Z\.csv: file is empty"):
        load_global(d, format="plain", stressor="CO2")
    (d / "Z.csv").write_text("".join(good.splitlines(keepends=True)[:3]))
    with pytest.raises(InputFileError, match=r"Z\.csv: has a header but no rows"):
        load_global(d, format="plain", stressor="CO2")
    (d / "Z.csv").write_bytes(good.replace("AUT", "\u00d6ST", 1).encode("latin-1"))
    with pytest.raises(InputFileError, match=r"Z\.csv: line 1 is not UTF-8 text \(byte 0xd6"):
        load_global(d, format="plain", stressor="CO2")


def test_plain_duplicate_header_label_and_empty_units(tmp_path):
    d = _plain_dir(tmp_path)
    lines = (d / "Y.csv").read_text().splitlines(keepends=True)
    cells = lines[1].rstrip("\n").split(",")
    cells[3] = cells[2]
    lines[1] = ",".join(cells) + "\n"
    (d / "Y.csv").write_text("".join(lines))
    with pytest.raises(MRIOError, match=r"Y\.csv.*duplicate"):
        load_global(d, format="plain", stressor="CO2")
    d = _plain_dir(tmp_path / "again")
    (d / "units.csv").write_text("")
    with pytest.raises(InputFileError, match=r"units\.csv: file is empty.*stressor,unit"):
        load_global(d, format="plain", stressor="CO2")


def test_plain_bom_and_crlf_read_the_same(tmp_path):
    d = _plain_dir(tmp_path)
    for path in d.glob("*.csv"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    m, t = load_global(d, format="plain", stressor="CO2"), truth()
    assert m.rows.equals(t.rows) and m.fd_columns.equals(t.fd_columns) and m.unit == "kg"
    np.testing.assert_allclose(m.Z, t.Z, rtol=1e-15)


def test_mrio_source_link_loop(tmp_path):
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(InputFileError, match=r"loop: MRIO source is a symbolic link loop"):
        load_global(tmp_path / "loop", format="plain", stressor="CO2")
