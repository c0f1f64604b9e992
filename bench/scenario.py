"""Scenario benchmark: one scenario against the baseline run, on the demo.

Usage::

    python bench/scenario.py                          # 10 km and 1 km
    python bench/scenario.py --resolution 10km --repeat 3
    python bench/scenario.py --scenario bri_shift --keep /data/bench-scenario

For each resolution the demo inputs are generated once (timed apart, with
``pipeline.demo.build.build_demo_inputs``). Then, side by side in this one
invocation, ``--repeat`` interleaved rounds of:

* ``baseline``: ``footprint-map run`` of ``config/demo.toml`` without its
  ``[[scenario]]`` tables (its ``[groups]`` kept, so the baseline's key is the
  full config's), into a fresh directory;
* ``scenario``: ``footprint-map run CONFIG --scenario NAME`` with the full
  config, against that baseline: the MRIO is loaded and factorized again, the
  scenario's changed columns solved, and one grid pass written;
* ``with``: ``footprint-map run`` of the baseline config plus that one
  ``[[scenario]]``, into a fresh directory: the baseline and the scenario in one
  run, the scenario reusing the run's factor and ingested inventory. ``with -
  baseline`` is what the scenario adds to a run.

Each is measured with ``bench/treemem.py``'s ``measure`` (wall time, CPU seconds
and peak RSS summed over the driver and the Dask workers). Each row keeps the best
wall time of the rounds; the table ends with ``scenario wall / baseline wall``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from scale import CLI, ROOT, build_inputs
from treemem import measure as measure_tree


def study_configs(case: Path, inputs: Path, scenario: str) -> tuple[Path, Path, Path]:
    """``config/demo.toml`` on ``inputs`` without maps: without its scenarios, with all,
    and with ``scenario`` alone."""
    text = (ROOT / "config" / "demo.toml").read_text()
    text = re.sub(r"(?m)^inputs = .*$", f"inputs = {str(inputs)!r}", text)
    text = re.sub(r"(?m)^maps = .*$", "maps = false", text)
    full = case / "study.toml"
    full.write_text(text)
    baseline = case / "study-baseline.toml"
    head, *declared = text.split("[[scenario]]")
    baseline.write_text(head)
    chosen = [d for d in declared if f'name = "{scenario}"' in d]
    if not chosen:
        raise SystemExit(f"config/demo.toml declares no scenario {scenario!r}")
    alone = case / "study-one-scenario.toml"
    alone.write_text(head + "[[scenario]]" + chosen[0])
    return baseline, full, alone


def measure(argv: list[str]) -> dict:
    """One command: wall and CPU seconds, peak tree RSS (GiB); stops the benchmark on failure."""
    found = measure_tree(argv)
    if found.code != 0:
        raise SystemExit(f"{' '.join(argv)} failed with exit {found.code}")
    return {"wall_s": found.wall, "cpu_s": found.cpu, "rss_gib": found.peak / 2**30}


def run_case(case: Path, inputs: Path, scenario: str, repeat: int) -> dict[str, dict]:
    """``repeat`` rounds of the baseline run, then the scenario on it; the best of each."""
    baseline, full, alone = study_configs(case, inputs, scenario)
    best: dict[str, dict] = {}
    for _ in range(repeat):
        out = case / "out"
        shutil.rmtree(out, ignore_errors=True)
        found = {
            "baseline": measure([*CLI, "run", str(baseline), "--out", str(out)]),
            "scenario": measure(
                [*CLI, "run", str(full), "--out", str(out), "--scenario", scenario]
            ),
        }
        shutil.rmtree(out, ignore_errors=True)
        found["with"] = measure([*CLI, "run", str(alone), "--out", str(out)])
        for kind, row in found.items():
            print(
                f"  {kind:>8}: {row['wall_s']:7.1f} s (CPU {row['cpu_s']:6.1f} s)  "
                f"{row['rss_gib']:5.2f} GiB",
                flush=True,
            )
            kept = best.setdefault(kind, dict(row))
            kept["wall_s"] = min(kept["wall_s"], row["wall_s"])
            kept["cpu_s"] = min(kept["cpu_s"], row["cpu_s"])
            kept["rss_gib"] = max(kept["rss_gib"], row["rss_gib"])
        base, both = found["baseline"], found["with"]
        print(
            f"  this round: the scenario adds {both['wall_s'] - base['wall_s']:.1f} s to the run "
            f"({(both['wall_s'] - base['wall_s']) / base['wall_s']:.2f} of the baseline); "
            f"run --scenario is {found['scenario']['wall_s'] / base['wall_s']:.2f} of it",
            flush=True,
        )
    return best


def table(rows: dict[str, dict[str, dict]], scenario: str) -> str:
    """The Markdown table the README quotes, with the ratio per resolution."""
    lines = [
        "",
        f"| resolution | baseline wall s | scenario `{scenario}` wall s | ratio "
        "| baseline peak RSS GiB | scenario peak RSS GiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for resolution, found in rows.items():
        base, one = found["baseline"], found["scenario"]
        lines.append(
            f"| {resolution} | {base['wall_s']:.1f} | {one['wall_s']:.1f} | "
            f"{one['wall_s'] / base['wall_s']:.2f} | {base['rss_gib']:.2f} | {one['rss_gib']:.2f} |"
        )
    for resolution, found in rows.items():
        base, one, both = (found[k] for k in ("baseline", "scenario", "with"))
        lines.append(
            f"{resolution}: run --scenario / baseline: wall {one['wall_s'] / base['wall_s']:.2f}, "
            f"CPU {one['cpu_s'] / base['cpu_s']:.2f}"
        )
        added = {k: both[k] - base[k] for k in ("wall_s", "cpu_s")}
        lines.append(
            f"{resolution}: a scenario in the run adds {added['wall_s']:.1f} s wall "
            f"({added['wall_s'] / base['wall_s']:.2f} of the baseline), "
            f"{added['cpu_s']:.1f} s CPU ({added['cpu_s'] / base['cpu_s']:.2f})"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", nargs="+", default=["10km", "1km"])
    parser.add_argument("--scenario", default="us_tariff_25", help="a scenario of demo.toml")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds; best wall")
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--keep", type=Path, help="work here and keep the outputs")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="footprint-scenario-"))
    rows = {}
    for resolution in args.resolution:
        case = root / resolution
        shutil.rmtree(case, ignore_errors=True)
        seconds = build_inputs(case / "inputs", resolution, 12, args.seed)
        print(f"# {resolution}: inputs in {seconds:.0f} s", flush=True)
        rows[resolution] = run_case(case, case / "inputs", args.scenario, args.repeat)
    print(table(rows, args.scenario))
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
