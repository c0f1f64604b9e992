"""One exception hierarchy for footprint-map.

Every error the pipeline raises on bad input derives from :class:`FootprintError`.
Messages are one line and say *what* is wrong, *where* (file, label or row) and
*what to do*. The CLI prints ``error: <message>`` and exits with status 2.
Labels in messages are written by the one formatter, :func:`format_label`.
"""

from __future__ import annotations

from typing import Any


class FootprintError(Exception):
    """Base class of every error footprint-map raises on bad input or state."""


class ConfigError(FootprintError):
    """The study configuration is missing, misspelled or of the wrong type."""


class InputFileError(FootprintError):
    """An input file is missing, unreadable or not in the expected format."""


class MRIOError(FootprintError):
    """The MRIO table is inconsistent: labels, balance, signs or singularity."""


class ConcordanceError(FootprintError):
    """A sector or region concordance loses, double counts or misses labels."""


class GridError(FootprintError):
    """A gridded inventory or region raster is inconsistent (CRS, alignment, units)."""


class ConservationError(FootprintError):
    """Attributed emissions do not add back up to the inventory."""


class OutputError(FootprintError):
    """An output location cannot be written."""


def format_label(label: Any) -> str:
    """A row, column or (multi-)index label as text for a message.

    Parameters
    ----------
    label : object
        A label, or a tuple of the levels of a MultiIndex label.

    Returns
    -------
    str
        Quoted, e.g. ``'CN-BJ'`` or ``('CN-BJ', 'power')``.
    """
    if isinstance(label, tuple):
        return repr(tuple(str(v) for v in label))
    return repr(str(label))
