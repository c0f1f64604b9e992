"""Input files that fail with one line: existence, UTF-8 text, CSV tables, numeric cells.

The readers (MRIO tables, concordances, units, the config, boundaries) use these so
that a missing file, a symbolic link loop, a directory given as a file, Latin-1
text, an empty file, a semicolon-delimited CSV or a text cell among numbers raises
:class:`~pipeline.errors.InputFileError` naming the file (and line, row or column)
and the fix, instead of a pandas or OS traceback. A UTF-8 byte order mark is
accepted everywhere.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import InputFileError, format_label

#: What to do about non-UTF-8 text.
UTF8_FIX = "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT)"


def _stat_problem(
    path: Path, what: str, fix: str, *, want_dir: bool | None, missing: str = "not found"
) -> str | None:
    """Why ``path`` is not a usable file (or directory), or None."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return (
                f"{path}: {what} is a symbolic link loop (a link that points back to "
                "itself); fix or remove the link"
            )
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"{path}: {what} {missing}; {fix}"
        return f"{path}: cannot open the {what} ({exc.strerror}); {fix}"
    if want_dir is None:
        return None
    if want_dir and not stat.S_ISDIR(mode):
        return f"{path}: {what} is not a directory; {fix}"
    if not want_dir and stat.S_ISDIR(mode):
        return f"{path}: {what} is a directory, not a file; {fix}"
    return None


def check_file(path: str | Path, *, what: str, fix: str) -> Path:
    """``path`` if it is an existing file; else an InputFileError saying why and ``fix``."""
    problem = _stat_problem(Path(path), what, fix, want_dir=False)
    if problem:
        raise InputFileError(problem)
    return Path(path)


def check_exists(path: str | Path, *, what: str, fix: str) -> Path:
    """``path`` if it exists (file or directory); else an InputFileError saying why."""
    problem = _stat_problem(Path(path), what, fix, want_dir=None)
    if problem:
        raise InputFileError(problem)
    return Path(path)


def check_dir(path: str | Path, *, what: str, fix: str, missing: str = "not found") -> Path:
    """``path`` if it is an existing directory; else an InputFileError saying why."""
    problem = _stat_problem(Path(path), what, fix, want_dir=True, missing=missing)
    if problem:
        raise InputFileError(problem)
    return Path(path)


def not_utf8(path: Path) -> InputFileError:
    """The error for a file that is not UTF-8, naming its first bad line."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = line[exc.start]
                return InputFileError(
                    f"{path}: line {number} is not UTF-8 text (byte 0x{byte:02x}, "
                    f"Latin-1 {bytes([byte]).decode('latin-1')!r}?); {UTF8_FIX}"
                )
    return InputFileError(f"{path}: is not UTF-8 text; {UTF8_FIX}")


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (a byte order mark is dropped)."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def _check_delimiter(path: Path, expect: str) -> None:
    """Refuse a CSV whose first line is split by ``;`` or tabs instead of commas."""
    with open(path, "rb") as fh:
        first = fh.readline(1 << 16)
    if b"," in first:
        return
    for sep in (b";", b"\t"):
        if sep in first:
            raise InputFileError(
                f"{path}: columns are separated by {sep.decode()!r}, not commas; "
                f"save it as comma-separated CSV ({expect})"
            )


def read_csv(path: Path, *, expect: str, **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, **kwargs)`` with one-line errors.

    ``expect`` describes the expected layout for the messages, e.g.
    ``"header inventory_sector,mrio_sector[,weight]"``.
    """
    _check_delimiter(path, expect)
    try:
        return pd.read_csv(path, **kwargs)
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except pd.errors.EmptyDataError:
        if path.stat().st_size == 0:
            raise InputFileError(f"{path}: file is empty; write the table ({expect})") from None
        raise InputFileError(
            f"{path}: has a header but no rows; write the rows ({expect})"
        ) from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "parse error"
        raise InputFileError(
            f"{path}: not a valid CSV table ({reason}); fix the file ({expect})"
        ) from exc


def numeric(frame: pd.DataFrame, path: Path) -> np.ndarray:
    """``frame`` as float64; a cell that is not a number is an error naming row and column."""
    try:
        return frame.to_numpy(np.float64)
    except (ValueError, TypeError):
        pass
    for j, column in enumerate(frame.columns):
        values = frame.iloc[:, j]
        coerced = pd.to_numeric(values, errors="coerce")
        bad = np.flatnonzero((coerced.isna() & values.notna()).to_numpy())
        if bad.size:
            i = int(bad[0])
            row, col = format_label(frame.index[i]), format_label(column)
            raise InputFileError(
                f"{path}: the cell in row {row}, column {col} "
                f"is {values.iloc[i]!r}, not a number; write a number there (0 if none)"
            )
    return frame.apply(pd.to_numeric).to_numpy(np.float64)
