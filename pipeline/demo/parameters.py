"""The synthetic demo MRIO's parameters: regions, sectors and invented numbers.

**All numbers here are synthetic**, loosely shaped like the literature (see
:mod:`pipeline.demo.mrio`). Do not cite them.
"""

from __future__ import annotations

import numpy as np

COUNTRY = "CHN"
#: The 31 mainland provinces, in the order of ``data/china_provinces.geojson``.
PROVINCES: tuple[str, ...] = (
    "CN-BJ",
    "CN-TJ",
    "CN-HE",
    "CN-SX",
    "CN-NM",
    "CN-LN",
    "CN-JL",
    "CN-HL",
    "CN-SH",
    "CN-JS",
    "CN-ZJ",
    "CN-AH",
    "CN-FJ",
    "CN-JX",
    "CN-SD",
    "CN-HA",
    "CN-HB",
    "CN-HN",
    "CN-GD",
    "CN-GX",
    "CN-HI",
    "CN-CQ",
    "CN-SC",
    "CN-GZ",
    "CN-YN",
    "CN-XZ",
    "CN-SN",
    "CN-GS",
    "CN-QH",
    "CN-NX",
    "CN-XJ",
)
FOREIGN: tuple[str, ...] = (
    "USA",
    "HKG",
    "JPN",
    "KOR",
    "DEU",
    "GBR",
    "FRA",
    "IND",
    "RUS",
    "AUS",
    "BRA",
    "ROW",
)
SECTORS: tuple[str, ...] = (
    "agriculture",
    "mining",
    "food",
    "textiles",
    "petroleum_coking",
    "chemicals",
    "nonmetallic_minerals",
    "metal_smelting",
    "machinery",
    "electronics",
    "electricity_heat",
    "construction",
    "transport",
    "services",
)
CATEGORIES: tuple[str, ...] = ("households", "government", "capital_formation", "inventory_change")

# Synthetic relative economic size of provinces (coastal larger).
PROV_SIZE = np.array(
    [
        1.8,
        1.3,
        2.7,
        1.2,
        1.6,
        2.5,
        1.2,
        1.4,
        2.0,
        5.4,
        3.5,
        1.7,
        2.0,
        1.3,
        5.0,
        3.0,
        2.2,
        2.2,
        5.7,
        1.3,
        0.3,
        1.1,
        2.4,
        0.7,
        1.0,
        0.07,
        1.5,
        0.6,
        0.19,
        0.23,
        0.75,
    ]
)
# Synthetic export orientation (coastal provinces export more).
PROV_COAST = np.array(
    [
        1.2,
        1.5,
        0.6,
        0.4,
        0.4,
        1.0,
        0.4,
        0.4,
        2.0,
        1.8,
        1.8,
        0.5,
        1.6,
        0.5,
        1.2,
        0.4,
        0.5,
        0.5,
        2.5,
        0.7,
        0.6,
        0.5,
        0.5,
        0.3,
        0.4,
        0.2,
        0.4,
        0.3,
        0.3,
        0.3,
        0.4,
    ]
)
# Synthetic carbon-intensity factor (coal-heavy north high, hydro-rich south-west low).
PROV_COAL = np.array(
    [
        0.8,
        1.1,
        1.5,
        1.8,
        1.8,
        1.3,
        1.1,
        1.2,
        0.8,
        1.0,
        0.9,
        1.2,
        0.8,
        1.0,
        1.5,
        1.2,
        0.9,
        0.9,
        0.8,
        0.8,
        0.9,
        0.9,
        0.6,
        1.1,
        0.6,
        0.5,
        1.2,
        1.2,
        0.7,
        1.7,
        1.3,
    ]
)
# Synthetic final demand of foreign regions (million USD) and their CO2 totals (t).
FOREIGN_FD = np.array(
    [1.6e7, 1.5e6, 6.0e6, 1.2e6, 3.5e6, 2.6e6, 2.7e6, 1.8e6, 2.0e6, 1.5e6, 2.4e6, 3.0e7]
)
FOREIGN_CO2 = np.array(
    [5.0e9, 4.5e7, 1.2e9, 6.0e8, 7.5e8, 4.5e8, 3.3e8, 2.0e9, 1.6e9, 4.0e8, 4.5e8, 1.0e10]
)
# Target shares of China's export-driven CO2 by foreign final consumer (synthetic).
TARGET_CONSUMER = np.array(
    [0.235, 0.105, 0.092, 0.075, 0.07, 0.055, 0.05, 0.055, 0.055, 0.05, 0.05, 0.055]
)
# Target shares of power/heat and metal smelting in China's export-driven CO2 (synthetic).
TARGET_POWER, TARGET_METAL = 0.43, 0.145
CHINA_FD = 8.0e6
CHINA_CO2 = 9.5e9
CHINA_FY = 3.5e8  # synthetic household direct emissions
# Share of foreign users' tradable purchases bought in their own region (synthetic).
HOME_SHARE = np.array([0.8, 0.3, 0.82, 0.75, 0.7, 0.72, 0.72, 0.85, 0.85, 0.75, 0.85, 0.97])
# Sector output intensities (relative) and per-sector ordering used for CO2.
INTENSITY = np.array([40, 45, 30, 28, 90, 70, 110, 1000, 35, 22, 9000, 30, 55, 25.0])
IMPORT_SHARE = np.array(
    [0.08, 0.25, 0.04, 0.05, 0.08, 0.10, 0.02, 0.06, 0.10, 0.20, 0, 0, 0.03, 0.03]
)
TRADABLE = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.02, 0.02, 0.3, 0.15])
COL_TOTAL = np.array(
    [0.38, 0.45, 0.62, 0.62, 0.66, 0.62, 0.58, 0.64, 0.62, 0.64, 0.55, 0.62, 0.5, 0.4]
)
# final-demand product composition by category (rows: categories, columns: SECTORS)
PHI = np.array(
    [
        [8, 0.5, 12, 7, 2, 2, 0.5, 0.2, 3, 6, 4, 0.5, 5, 48],
        [0.5, 0.1, 1, 0.5, 0.5, 1, 0.1, 0.1, 2, 2, 1, 4, 3, 85],
        [1, 0.5, 0.3, 0.3, 0.2, 0.5, 1, 1, 22, 10, 0.2, 58, 2, 4],
        [10, 5, 8, 8, 5, 10, 5, 10, 15, 15, 0.1, 0.1, 0.1, 0.1],
    ]
)
CAT_SHARE = np.array([0.48, 0.16, 0.345, 0.015])
