"""Inventory-to-MRIO sector concordance and its weights."""

import numpy as np
import pandas as pd
import pytest

from pipeline.attribution.concordance import (
    concordance_from_table,
    read_concordance,
    sector_weights,
)
from pipeline.errors import ConcordanceError, InputFileError

MRIO = ["power", "steel", "cement", "services"]


def table(rows, weights=None):
    df = pd.DataFrame(rows, columns=["inventory_sector", "mrio_sector"])
    if weights is not None:
        df["weight"] = weights
    return df


def test_weights_follow_region_emissions_then_output_then_equal():
    conc = concordance_from_table(
        table(
            [
                ("energy", "power"),
                ("industry", "steel"),
                ("industry", "cement"),
                ("other", "services"),
            ]
        ),
        inventory_sectors=["energy", "industry", "other"],
        mrio_sectors=MRIO,
    )
    emissions = np.array([[5.0, 3.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    output = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 2.0, 6.0, 0.0]])
    w = sector_weights(conc, emissions=emissions, output=output)
    np.testing.assert_allclose(w[0, 1], [0, 0.75, 0.25, 0])  # by emissions 3:1
    np.testing.assert_allclose(w[1, 1], [0, 0.25, 0.75, 0])  # no emissions: by output 2:6
    np.testing.assert_allclose(w[1, 2], [0, 0, 0, 1.0])  # nothing at all: equal (one sector)
    np.testing.assert_allclose(w.sum(axis=2), 1.0)


def test_fixed_weights_are_used_and_checked():
    conc = concordance_from_table(
        table([("ind", "steel"), ("ind", "cement")], [0.4, 0.6]),
        inventory_sectors=["ind"],
        mrio_sectors=MRIO,
    )
    w = sector_weights(conc, emissions=np.ones((2, 4)), output=np.ones((2, 4)))
    np.testing.assert_allclose(w[:, 0], [[0, 0.4, 0.6, 0]] * 2)
    with pytest.raises(ConcordanceError, match="'ind'.*sum to 0.9.*loses"):
        concordance_from_table(
            table([("ind", "steel"), ("ind", "cement")], [0.4, 0.5]),
            inventory_sectors=["ind"],
            mrio_sectors=MRIO,
        )
    with pytest.raises(ConcordanceError, match="double counts"):
        concordance_from_table(
            table([("ind", "steel"), ("ind", "cement")], [0.6, 0.6]),
            inventory_sectors=["ind"],
            mrio_sectors=MRIO,
        )


def test_missing_inventory_sector_and_unknown_mrio_sector(tmp_path):
    path = tmp_path / "c.csv"
    table([("energy", "power")]).to_csv(path, index=False)
    with pytest.raises(
        ConcordanceError, match=r"c.csv: inventory sector\(s\) \['transport'\] have no row"
    ):
        read_concordance(path, inventory_sectors=["energy", "transport"], mrio_sectors=MRIO)
    table([("energy", "nuclear")]).to_csv(path, index=False)
    with pytest.raises(ConcordanceError, match=r"\['nuclear'\] are not in the MRIO"):
        read_concordance(path, inventory_sectors=["energy"], mrio_sectors=MRIO)


CATEGORIES = ["households", "government"]


def test_final_demand_rows_mark_direct_sectors_and_are_checked():
    conc = concordance_from_table(
        table([("energy", "power"), ("residential", "final_demand:households")], [1.0, None]),
        inventory_sectors=["energy", "residential"],
        mrio_sectors=MRIO,
        categories=CATEGORIES,
    )
    assert conc.final_demand == ("", "households")
    np.testing.assert_array_equal(conc.final_demand_index(CATEGORIES), [-1, 0])
    assert not conc.mapping[1].any()  # no MRIO sector carries residential emissions
    w = sector_weights(conc, emissions=np.ones((2, 4)), output=np.ones((2, 4)))
    np.testing.assert_array_equal(w[:, 1], 0.0)
    cases = {
        "names no final-demand category; use final_demand:<one of": [
            ("residential", "final_demand:household")
        ],
        "maps both to final demand and to MRIO sectors": [
            ("residential", "final_demand:households"),
            ("residential", "services"),
        ],
        "maps to two final-demand categories": [
            ("residential", "final_demand:households"),
            ("residential", "final_demand:government"),
        ],
    }
    for message, rows in cases.items():
        with pytest.raises(ConcordanceError, match=message):
            concordance_from_table(
                table(rows),
                inventory_sectors=["residential"],
                mrio_sectors=MRIO,
                categories=CATEGORIES,
            )


def test_direct_final_demand_kernel_routes_to_own_consumer():
    from pipeline.kernels.tables import direct_final_demand

    m = np.full((3, 2, 3, 2), 1 / 6)  # 3 regions, 2 inventory sectors, 3 consumers, 2 categories
    own = np.array([2, 0, -1])  # region 2 has no final-demand column
    out = direct_final_demand(m, np.array([-1, 1]), own)
    np.testing.assert_array_equal(out[:, 0], m[:, 0])  # industry sector unchanged
    assert out[0, 1, 2, 1] == 1.0 and out[1, 1, 0, 1] == 1.0
    np.testing.assert_array_equal(out[:, 1].sum(axis=(1, 2)), [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(m, 1 / 6)  # input untouched


@pytest.mark.parametrize("bad", [-0.2, 1.2, float("inf")])
def test_weights_outside_unit_interval_are_refused(bad):
    with pytest.raises(ConcordanceError, match=r"'ind' -> 'steel'.*outside \[0, 1\]"):
        concordance_from_table(
            table([("ind", "steel"), ("ind", "cement")], [bad, 1 - bad]),
            inventory_sectors=["ind"],
            mrio_sectors=MRIO,
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"c\.csv: file is empty; write the table \(header inventory_sector,mrio_sector"),
        (b"inventory_sector;mrio_sector\nenergy;power\n", r"separated by ';', not commas"),
        (
            "inventory_sector,mrio_sector\n\u00e9nergie,power\n".encode("latin-1"),
            r"line 2 is not UTF-8",
        ),
        (b"inventory_sector,mrio_sector,weight\nenergy,power,all\n", r"weight 'all' of 'energy'"),
    ],
)
def test_unreadable_concordance_files(tmp_path, content, message):
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    with pytest.raises((ConcordanceError, InputFileError), match=message):
        read_concordance(path, inventory_sectors=["energy"], mrio_sectors=MRIO)


def test_header_only_concordance_names_the_missing_sectors(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("inventory_sector,mrio_sector\n")
    with pytest.raises(ConcordanceError, match=r"\['energy'\] have no row"):
        read_concordance(path, inventory_sectors=["energy"], mrio_sectors=MRIO)


def test_concordance_with_bom_and_crlf(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"\xef\xbb\xbfinventory_sector,mrio_sector\r\nenergy,power\r\n")
    conc = read_concordance(path, inventory_sectors=["energy"], mrio_sectors=MRIO)
    assert conc.mapping[0].sum() == 1
