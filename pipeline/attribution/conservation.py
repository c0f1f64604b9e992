"""The conservation checks of a run: every cell, every consumer, every MRIO row.

The terms come from the write pass itself (:mod:`pipeline.kernels.write_pass`):
each spatial chunk's task returns them with the layers it stores, so checking
costs no second scan of the grid. NaN never passes a check.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pipeline.errors import ConservationError
from pipeline.kernels.write_pass import TERMS

CONSERVATION_RTOL = 1e-6


def terms_as_results(terms: np.ndarray) -> dict:
    """The write pass's terms vector as the named results :func:`check_conservation` takes."""
    terms = np.asarray(terms, dtype=np.float64)
    named = dict(zip(TERMS, terms[: len(TERMS)].tolist(), strict=True))
    return {**named, "consumer_cell_totals": terms[len(TERMS) :]}


def check_conservation(
    results: dict, attribution: xr.DataArray, *, rtol: float = CONSERVATION_RTOL
) -> float:
    """Return the largest relative conservation error; raise above ``rtol``.

    Checks that per cell the consumers add up to the mapped inventory, that cell
    sums equal the ``attribution`` totals per consumer, and that the sector and
    category cubes add up to the foreign total.
    """
    inventory = float(results["inventory_total"])
    total = max(inventory, 1e-300)  # an all-zero inventory conserves trivially
    per_consumer = attribution.sum(("region", "sector", "category"), skipna=False).values
    errors = {
        "per-cell consumers vs inventory": float(results["cell_max_rel_error"]),
        "cell sums vs attribution": float(
            np.abs(results["consumer_cell_totals"] - per_consumer).max() / total
        ),
        "attribution vs inventory": abs(float(per_consumer.sum()) - inventory) / total,
        "sector cube vs foreign total": float(results["foreign_by_sector_error"]) / total,
        "category cube vs foreign total": float(results["foreign_by_category_error"]) / total,
    }
    bad = [k for k, v in errors.items() if not v <= rtol]  # NaN never passes
    worst = bad[0] if bad else max(errors, key=errors.get)
    if bad:
        raise ConservationError(
            f"conservation failed: {worst} differs by {errors[worst]:.3g} (relative) > {rtol:g}; "
            "check that the MRIO is balanced and every emitting region has MRIO rows"
        )
    return max(errors.values())


def check_row_conservation(attrs: dict, *, rtol: float = CONSERVATION_RTOL) -> float:
    """Return the every-row MRIO conservation error of attribution shares; raise above ``rtol``.

    ``attrs`` are those of :func:`pipeline.mrio.attribution_shares`: each row's
    emissions summed over every final-demand column must equal its ``F``, for the
    foreign rows of a nested table as well as the mapped ones. NaN never passes.
    """
    error = float(attrs["row_conservation_max_rel_error"])
    if not error <= rtol:
        raise ConservationError(
            f"conservation failed: MRIO row {attrs['row_conservation_worst_row']} is attributed "
            f"{error:.3g} (relative) more or less than its F; its inputs or output are lost "
            "(e.g. a zero-output sector that receives inputs): fix the table or its nesting"
        )
    return error
