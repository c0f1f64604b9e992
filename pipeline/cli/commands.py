"""``footprint-map report``, and the flags and compute context the read commands share."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.storage.versions import refuse_run_owned

EPILOG_REPORT = """example:
  footprint-map report demo-out                      # writes demo-out/report/index.html
  footprint-map report results/ --output /tmp/report-2012

The report folder is self-contained (relative PNG links, no network): open
index.html in any browser or zip the folder.
"""


def common_flags(parser: argparse.ArgumentParser) -> None:
    """The results directory and ``--scheduler``."""
    parser.add_argument("dir", type=Path, metavar="DIR", help="results directory (--out of run)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="compute on a running Dask scheduler, e.g. tcp://127.0.0.1:8786 "
        "(prints its dashboard link); default: local threads",
    )


def add_report_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``footprint-map report``."""
    report = subparsers.add_parser(
        "report",
        help="write an offline HTML report of a results directory",
        epilog=EPILOG_REPORT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write maps (foreign total, top consumers, top sectors, households vs "
        "capital formation), the concentration curve, the headline tables and the "
        "provenance to one folder with index.html.",
    )
    common_flags(report)
    report.add_argument(
        "--output", type=Path, metavar="DIR", help="report folder (default: DIR/report)"
    )
    return report


def compute_context(args):
    """Where the command computes: ``--scheduler`` (via :func:`cluster.connect`) or threads."""
    from cluster import compute_context

    return compute_context(args.scheduler, echo=lambda text: print(text, file=sys.stderr))


def cmd_report(args) -> int:
    """``footprint-map report``."""
    from pipeline.results.api import open_results
    from pipeline.results.report import build_report

    results = open_results(args.dir)
    out = args.output or results.directory / "report"
    refuse_run_owned(out, "DIR/report")
    with compute_context(args):
        index = build_report(results, out, echo=lambda text: print(text, file=sys.stderr))
    print(f"report: {index}")
    return 0
