"""Test helper: checks of the demo's tables with N foreign regions."""

from __future__ import annotations

import json

import numpy as np

from helpers import REPO_ROOT

GEOJSON = REPO_ROOT / "data" / "world_countries.geojson"


def geojson_codes() -> list:
    """The ``iso3`` of every feature of ``data/world_countries.geojson``, in file order."""
    doc = json.loads(GEOJSON.read_text(encoding="utf-8"))
    return [f["properties"]["iso3"] for f in doc["features"]]


def assert_nests_to_truth(nested, true, rtol=1e-9):
    """``nested == true``; the foreign -> province blocks only by national total.

    The true table splits imports with one province share per product for every
    user; nesting splits them per user, so only their totals over provinces agree.
    """
    P, G, K = 31, 14, 4
    for k in ("x", "F", "F_Y"):
        np.testing.assert_allclose(getattr(nested, k), getattr(true, k), rtol=rtol, err_msg=k)
    for k, users in (("Z", G), ("Y", K)):
        got, want = getattr(nested, k), getattr(true, k)
        scale = rtol * true.x.max()
        np.testing.assert_allclose(got[:, P * users :], want[:, P * users :], atol=scale)
        np.testing.assert_allclose(
            got[: P * G, : P * users], want[: P * G, : P * users], atol=scale
        )
        by_origin = [m[P * G :, : P * users].reshape(-1, P, users).sum(1) for m in (got, want)]
        np.testing.assert_allclose(*by_origin, atol=scale, err_msg=k)
