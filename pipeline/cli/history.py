"""``footprint-map history``: the snapshots of a results directory's repository, newest first."""

from __future__ import annotations

import argparse
import json

EPILOG_HISTORY = """examples:
  footprint-map history demo-out
  footprint-map history s3://my-bucket/studies/china --json

Each row is one run's complete result (a snapshot of DIR/footprint on branch main):
its id, when it was written, its tags, the SHA-256 of the study config and the
number of input checksums. Read an earlier one in Python with
pipeline.open_results(DIR, snapshot=ID) or open_results(DIR, tag=NAME).
"""


def add_history_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``footprint-map history``."""
    history = subparsers.add_parser(
        "history",
        help="list the committed results (snapshots) of a results directory",
        epilog=EPILOG_HISTORY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="List the snapshots of DIR/footprint, newest first.",
    )
    history.add_argument("dir", metavar="DIR|URL", help="results directory or URL (--out of run)")
    history.add_argument("--json", action="store_true", help="one JSON object per snapshot")
    return history


def format_history(rows: list[dict]) -> str:
    """The snapshots as an aligned text table (the repository's first, empty one left out)."""
    lines = [f"{'snapshot':<20}  {'written (UTC)':<25}  {'tags':<16}  config sha256  inputs"]
    for row in rows:
        meta = row["metadata"]
        if "config_sha256" not in meta:
            continue  # "Repository initialized": no result
        tags = ",".join(row["tags"]) or "-"
        config = meta["config_sha256"][:12]
        lines.append(
            f"{row['id']:<20}  {row['written']:<25}  {tags:<16}  {config:<13}  "
            f"{len(meta.get('input_checksums', {}))}"
        )
    return "\n".join(lines)


def cmd_history(args) -> int:
    """``footprint-map history``."""
    from pipeline.storage import repository
    from pipeline.storage.locations import parse_location

    location = parse_location(args.dir, what="DIR").child(repository.REPOSITORY)
    rows = repository.history(repository.open_repository(location))
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
    else:
        print(format_history(rows))
    return 0
