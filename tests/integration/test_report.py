"""``footprint-map report``: offline folder, figures, tables, provenance, headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers.stores import open_store

from pipeline.cli.app import main

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
    assert len(sources) == 9  # Fig 1a-d, 2a-b, 3a-b, concentration curve
    for src in sources:
        path = report.parent / src
        assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)
    assert "<script" not in text and "<link" not in text


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
    assert "Fig. 3b" in text


def test_report_tables_and_provenance(report, out):
    ds = open_store(out / "footprint.zarr")
    text = report.read_text()
    a = ds["attribution"].isel(consumer=np.flatnonzero(ds["foreign"].values)).load()
    shares = a.sum(("region", "sector", "consumer")) / a.sum()
    for category, share in shares.to_series().items():
        assert re.search(rf"<td>{category}</td>\s*<td>{float(share):.4g}</td>", text)
    assert "SYNTHETIC" in text
    assert ds.attrs["created"] in text
    for heading in (
        "Concentration",
        "Shares of foreign-driven CO2",
        "Provenance",
        "land_share_75pct",
    ):
        assert heading in text
    assert "area_km2_90pct" in text


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
    assert len(images) == 9
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
