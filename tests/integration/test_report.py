"""``footprint-map report``: offline folder, figures, tables, provenance, headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers.stores import open_store
from pyproj import Geod

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.results.report_scenarios import signed_mt

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def out(shared_results):
    return shared_results


@pytest.fixture(scope="module")
def report(out):
    assert main(["report", str(out)]) == 0
    return out / "report" / "index.html"


def test_report_files_and_links(report):
    text = report.read_text()
    sources = re.findall(r'<img[^>]*\bsrc="([^"]+)"', text)
    # Fig 1a-d, 2a-b, 3a-b, domestic map, concentration curve; two change maps per scenario
    assert len(sources) == 10 + 2 * 2
    for src in sources:
        path = report.parent / src
        assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"
        assert f'<a href="{src}"' in text  # click to enlarge: a plain link to the PNG
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)
    assert "<script" not in text and "<link" not in text
    anchors = re.findall(r'href="#([^"]+)"', text)
    assert len(anchors) == 12 and all(f'id="{a}"' in text for a in anchors)  # contents


def test_report_figures_follow_the_paper(report, out):
    ds = open_store(out / "footprint.zarr")
    a = ds["attribution"].isel(consumer=np.flatnonzero(ds["foreign"].values)).load()
    by_consumer = a.sum(("region", "sector", "category")).to_series().sort_values()[::-1]
    by_sector = a.sum(("region", "consumer", "category")).to_series().sort_values()[::-1]
    text = report.read_text()
    first = str(by_consumer.index[0])
    for consumer in by_consumer.index[:3]:
        assert f'src="consumer_{consumer}.png"' in text
    for sector in by_sector.index[:2]:
        assert f'src="sector_{sector}.png"' in text
    assert f'src="consumer_{first}_households.png"' in text
    assert f'src="consumer_{first}_capital_formation.png"' in text
    assert 'src="domestic_footprint.png"' in text
    assert "Fig. 3b" in text
    assert "Fig. 1b: CO2 driven by final demand in United States of America" in text  # names


def test_headline_is_in_mt_and_percent_without_scientific_notation(report, out):
    text = report.read_text()
    table = re.search(r'<table id="headline-table".*?</table>', text, re.S).group(0)
    assert not re.search(r"\d[eE][+-]?\d", table), table
    summary = json.loads((out / "summary.json").read_text())
    foreign, domestic = summary["foreign_total_t"], summary["domestic_total_t"]
    assert f"<td>{foreign / 1e6:,.1f} Mt ({100 * foreign / (foreign + domestic):.1f} %" in table
    assert f"<td>{100 * summary['land_share_for_75pct']:.2f} % of the land (" in table
    assert "km²)</td>" in table and "to 15 digits" in table
    values = re.findall(r"<td>([^<]*)</td>", table)
    assert all(not re.search(r"\d\.\d{4,}", v) for v in values)  # no 0.009653


def test_figure_panels_share_their_colour_limits(report, out):
    panels = json.loads((report.parent / "figures.json").read_text())
    ds = open_store(out / "footprint.zarr").load()
    by_figure: dict[str, list] = {}
    for panel in panels:
        by_figure.setdefault(panel["figure"], []).append(panel)
    assert [len(by_figure[f]) for f in ("fig1", "fig2", "fig3", "domestic")] == [4, 2, 2, 1]
    for group in by_figure.values():
        assert len({(p["vmin"], p["vmax"]) for p in group}) == 1
        assert 0 < group[0]["vmin"] < group[0]["vmax"]
    # 50 km grid: one pixel per cell, so a figure's top is its largest cell
    largest = float(ds["foreign_footprint"].max())
    assert by_figure["fig1"][0]["vmax"] == pytest.approx(largest, rel=1e-12)
    sectors = [p["file"][len("sector_") : -len(".png")] for p in by_figure["fig2"]]
    sector_max = max(float(ds["footprint_by_sector"].sel(sector=s).max()) for s in sectors)
    assert by_figure["fig2"][0]["vmax"] == pytest.approx(sector_max, rel=1e-12)
    assert by_figure["fig1"][0]["vmax"] != by_figure["fig2"][0]["vmax"]


def test_domestic_map_layer_sums_to_the_domestic_total(out):
    from pipeline.results.report_maps import domestic_layer

    res = open_results(out)
    total = float(domestic_layer(res).sum())
    assert total == pytest.approx(res.summary()["domestic_total_t"], rel=1e-9)


def test_concentration_curve_has_a_log_land_axis(out):
    import matplotlib.pyplot as plt

    from pipeline.results.report import paper_figures
    from pipeline.results.report_maps import draw_curve

    res = open_results(out)
    fig = draw_curve(res, paper_figures(res))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    x = ax.lines[0].get_xdata()
    n_land = res.concentration()["land_cells"]
    assert x.min() == pytest.approx(1 / n_land) and x.max() == 1.0
    assert ax.get_xlim()[0] == pytest.approx(1 / n_land)
    plt.close(fig)


def test_report_tables_and_provenance(report, out):
    ds = open_store(out / "footprint.zarr")
    text = report.read_text()
    a = ds["attribution"].isel(consumer=np.flatnonzero(ds["foreign"].values)).load()
    shares = a.sum(("region", "sector", "consumer")) / a.sum()
    for category, share in shares.to_series().items():
        words = str(category).replace("_", " ")
        mt = float(a.sel(category=category).sum()) / 1e6
        value = 100 * float(share)
        pct = f"{value:.2f}" if value < 10 else f"{value:.1f}"
        assert re.search(rf"<td>{words}</td>\s*<td>{mt:,.1f} Mt</td>\s*<td>{pct} %</td>", text)
    assert "SYNTHETIC" in text
    assert ds.attrs["created"] in text
    for heading in ("Concentration", "Shares of foreign-driven CO2", "Provenance", "Methods"):
        assert heading in text
    assert "f = F / x" in text and "L = (I − A)<sup>−1</sup>" in text
    assert "footprint[g, c] = Σ<sub>s</sub> e[s, g] Σ<sub>i</sub> w[r, s, i]" in text
    assert '{"dask"' not in text and "<th>numpy</th>" in text  # a table, not raw JSON


def test_province_table(report, out):
    ds = open_store(out / "footprint.zarr").load()
    text = report.read_text()
    table = re.search(r'<table id="province-table".*?</table>', text, re.S).group(0)
    a = ds["attribution"].sel(region="CN-GD")
    foreign = float(a.isel(consumer=np.flatnonzero(ds["foreign"].values)).sum()) / 1e6
    everything = float(a.sum()) / 1e6
    row = re.search(r"<tr>\s*<td>Guangdong \(CN-GD\)</td>(.*?)</tr>", table, re.S).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells[:3] == [f"{everything:,.1f} Mt", f"{foreign:,.1f} Mt",
                         f"{everything - foreign:,.1f} Mt"]  # fmt: skip
    assert table.count("</tr>") == 1 + ds.sizes["region"]


def test_city_table_has_one_row_per_urban_area(report, out):
    text = report.read_text()
    table = re.search(r'<table id="city-table".*?</table>', text, re.S).group(0)
    names = re.findall(r"<tr>\s*<td>\d+</td>\s*<td>([^<]*)</td>", table)
    assert len(names) == 10 and len(set(names)) == 10
    assert "Shanghai" in names
    for district in ("Puxi", "Pudong", "Xuhui", "Huangpu", "Hongkou", "Jing’an"):
        assert district not in names  # merged into Shanghai
    # Shanghai's places: the ranked (in range) CN-SH places within 25 km (geodesic) of it
    cities, _ = open_results(out).cities_in_range(25.0)
    sh = cities[cities["province"] == "CN-SH"]
    centre = sh.set_index("name").loc["Shanghai"]
    _, _, metres = Geod(ellps="WGS84").inv(
        np.full(len(sh), centre["lon"]), np.full(len(sh), centre["lat"]), sh["lon"], sh["lat"]
    )
    merged = int((metres <= 25_000).sum())
    assert merged >= 8
    row = re.search(
        r"<td>Shanghai</td>\s*<td>Shanghai</td>\s*<td>[\d,]+</td>\s*<td>([^<]*)<", table
    )
    assert row.group(1) == f"{merged} (with Puxi, Pudong, Minhang and {merged - 4} more)"


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_report_renders_in_headless_chromium(report, tmp_path):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=1",
    ]
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [str(CHROMIUM), *flags, f"--screenshot={shot}", "--window-size=1280,3000", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 50_000, done.stderr[-2000:]
    dom = subprocess.run(
        [str(CHROMIUM), *flags[:-2], "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    images = re.findall(r'<img[^>]*\bsrc="([^"]+)"', dom)
    assert len(images) == 10 + 2 * 2  # the paper's figures and two change maps per scenario
    assert all((report.parent / src).is_file() for src in images)
    assert not re.search(r"(src|href)=\"https?://", dom)
    log = done.stderr
    assert "ERR_FILE_NOT_FOUND" not in log
    assert _page_requests(log) == []
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def _page_requests(log: str) -> list[str]:
    """Network URLs requested, without Chromium's own service pings (time, update, accounts).

    Chromium's verbose log names every network request in ``NotifyBeforeURLRequest``;
    file:// loads of the report and its images do not appear there.
    """
    urls = re.findall(r"NotifyBeforeURLRequest: (\S+)", log)
    internal = re.compile(r"^https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com)/")
    return [url for url in urls if not internal.match(url)]


def table_cells(page: str, anchor: str) -> list[list[str]]:
    body = page.split(f'id="{anchor}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    cells = [re.findall(r"<td>(.*?)</td>", row, flags=re.S) for row in rows]
    return [[c.strip() for c in row] for row in cells if row]


def test_report_scenario_section_matches_the_delta_block(report, out):
    """Per scenario: the province tables' changes are the delta block's, by size."""
    index = report
    page = index.read_text()
    assert "<script" not in page and "http" not in page.split('id="scenarios"')[1]
    for name in ("us_tariff_25", "bri_shift"):
        delta = open_results(out, scenario=name).summary()["delta"]["by_province"]
        for rise, kind in ((True, "increases"), (False, "decreases")):
            expected = [(k, v) for k, v in delta.items() if (v["change_t"] > 0) == rise
                        and v["change_t"] != 0]  # fmt: skip
            expected.sort(key=lambda kv: -abs(kv[1]["change_t"]))
            anchor = f"scenario-{name}-largest-{kind}-by-province"
            if not expected:
                assert anchor not in page
                continue
            rows = table_cells(page, anchor)
            assert len(rows) == min(10, len(expected))
            for row, (code, value) in zip(rows, expected, strict=False):
                assert row[0].endswith(f"({code})")
                assert row[3] == signed_mt(value["change_t"])
                assert row[4] == f"{value['change_pct']:+.2f} %"
        assert (index.parent / f"scenario_{name}_foreign.png").is_file()
    assert "Largest decreases by province" in page and 'id="scenarios"' in page
    assert 'id="shares-group"' in page
