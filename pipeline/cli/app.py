"""Command line: ``footprint-map run | demo | query | report | export``.

Every bad input, OS error (disk full, permission denied, I/O error...), lost
Dask cluster or timeout ends with one line ``error: <what, where, the fix>`` on
stderr and exit status 2. An unexpected internal error (a bug) prints one line
``internal error: ...; the traceback is in <log file>`` and exits with status 1;
the log file is ``DIR/footprint-map-error.log`` (``--out``), or a temporary file
if ``--out`` cannot be written. Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import errno
import sys
import tempfile
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

from pipeline.cli.commands import add_report_parser, cmd_report
from pipeline.cli.export import add_export_parser, cmd_export
from pipeline.cli.history import add_history_parser, cmd_history
from pipeline.cli.parsing import StrictParser
from pipeline.cli.query import add_query_parser, cmd_query
from pipeline.cli.zonal import add_zonal_parser, cmd_zonal
from pipeline.errors import FootprintError

EPILOG_RUN = """example:
  footprint-map run config/demo.toml --inputs demo-out/inputs --out results/
  footprint-map run study.toml --out results/ --scheduler tcp://10.0.0.5:8786
  footprint-map run config/demo.toml --inputs demo-out/inputs --out results/ --scenario us_tariff_25
"""
EPILOG_DEMO = """example:
  footprint-map demo --out demo-out                 # 10 km, about a minute
  footprint-map demo --out demo-1km --resolution 1km
  footprint-map demo --out demo-eora --resolution 500m --foreign 159   # 190 consumers
"""


RESUME_HELP = (
    "reuse finished stages (ingested inventory, MRIO shares, result cubes) whose "
    "input checksums and config are unchanged"
)


def _cluster_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster (override the config's [cluster] section)")
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="attach to a running Dask scheduler, e.g. tcp://127.0.0.1:8786",
    )
    group.add_argument("--workers", type=int, metavar="N", help="LocalCluster worker processes")
    group.add_argument("--threads", type=int, metavar="N", help="threads per local worker")
    group.add_argument("--memory-limit", metavar="SIZE", help="memory per local worker, e.g. 3GiB")


def build_parser() -> argparse.ArgumentParser:
    """The ``footprint-map`` argument parser."""
    parser = StrictParser(
        prog="footprint-map",
        description="Map where the CO2 driven by each consumer's final demand is emitted.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a configured study",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a study: nest and solve the MRIO, attribute every "
        "grid cell, write DIR/footprint.zarr, summary.json and maps/.",
    )
    run.add_argument("config", type=Path, help="study TOML file (see config/demo.toml)")
    run.add_argument(
        "--out",
        default="footprint-out",
        metavar="DIR|URL",
        help="output directory, or object storage: s3://bucket/prefix (default: footprint-out)",
    )
    run.add_argument(
        "--inputs",
        type=Path,
        metavar="DIR",
        help="directory that relative input paths resolve against",
    )
    run.add_argument("--no-maps", action="store_true", help="skip the PNG maps")
    run.add_argument("--resume", action="store_true", help=RESUME_HELP)
    _tag_flag(run)
    run.add_argument(
        "--scenario",
        metavar="NAME",
        help="run only the config's [[scenario]] NAME, against the baseline already in --out "
        "(written by a run of the same config); publishes DIR/scenarios/NAME",
    )
    _realization_flag(run)
    _cluster_flags(run)

    _add_demo_parser(sub)
    add_query_parser(sub)
    add_report_parser(sub)
    add_export_parser(sub)
    add_zonal_parser(sub)
    add_history_parser(sub)
    return parser


def _add_demo_parser(sub) -> None:
    """The ``demo`` subcommand and its flags."""
    demo = sub.add_parser(
        "demo",
        help="generate the synthetic demo inputs and run them",
        epilog=EPILOG_DEMO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generate the demo inputs (synthetic economy and emissions "
        "on real geography) in DIR/inputs, then run config/demo.toml on them.",
    )
    demo.add_argument(
        "--out",
        default="demo-out",
        metavar="DIR|URL",
        help="output directory, or object storage: s3://bucket/prefix (default: demo-out)",
    )
    demo.add_argument(
        "--resolution",
        default="10km",
        help="grid cell size, e.g. 10km (default), 1km, 500m or 250m (100m to 100km)",
    )
    demo.add_argument(
        "--foreign",
        default="12",
        metavar="N",
        help="foreign regions: 12 (default: 11 named countries and ROW) to 189; above 12, "
        "the largest further countries of data/world_countries.geojson split off ROW "
        "(31 + N consumers)",
    )
    demo.add_argument("--seed", type=int, default=2012, help="random seed (default 2012)")
    demo.add_argument("--no-maps", action="store_true", help="skip the PNG maps")
    demo.add_argument("--resume", action="store_true", help=RESUME_HELP)
    _tag_flag(demo)
    _realization_flag(demo)
    _cluster_flags(demo)


def _tag_flag(parser) -> None:
    """``--tag NAME``: tags the result's snapshot in DIR/footprint."""
    parser.add_argument(
        "--tag",
        metavar="NAME",
        help="tag the result's snapshot in DIR/footprint (e.g. release-2024); tags never move",
    )


def _realization_flag(parser) -> None:
    """``--realizations N``: overrides ``[uncertainty] realizations``."""
    parser.add_argument(
        "--realizations",
        type=int,
        metavar="N",
        help="Monte Carlo realizations (overrides [uncertainty] realizations; 0: deterministic)",
    )


def _flag_settings(args) -> dict:
    """The cluster settings given as CLI flags."""
    settings: dict = {}
    if args.scheduler:
        settings.update(kind="address", address=args.scheduler)
    for flag, key in (
        ("workers", "n_workers"),
        ("threads", "threads_per_worker"),
        ("memory_limit", "memory_limit"),
    ):
        if getattr(args, flag) is not None:
            settings[key] = getattr(args, flag)
    return settings


#: Loggers of the Dask stack that print to stderr by default.
_DASK_LOGGERS = (
    "distributed",
    "distributed.client",
    "distributed.gc",
    "bokeh",
    "tornado",
    "tornado.application",
)


def _dask_logs_to(path: Path) -> None:
    """Send the Dask stack's log records (with their tracebacks) to ``path``, not stderr.

    So a failing run prints one ``error:`` line; the details stay in the log.
    """
    import logging

    handler = logging.FileHandler(path, delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in _DASK_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if isinstance(old, logging.StreamHandler) and old.stream in (sys.stderr, sys.stdout):
                logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False


def _run_config(config, args, *, note: str = "") -> dict:
    """Run ``config`` with the command's flags applied (a new checked config)."""
    import cluster
    from pipeline.results.scenario_summary import format_delta
    from pipeline.results.summary import format_summary
    from pipeline.storage.versions import ensure_writable_dir
    from pipeline.workflow.config import toml_items
    from pipeline.workflow.outputs import run_output
    from pipeline.workflow.run import run_study

    local = run_output(args.out, config.storage_options()).local
    _dask_logs_to(ensure_writable_dir(local) / LOG_NAME)
    config = config.with_overrides(
        source="command line",
        output={"maps": False} if args.no_maps else {},
        cluster=_flag_settings(args),
        uncertainty={"realizations": args.realizations} if args.realizations is not None else {},
    )
    settings = toml_items(config.cluster)
    result = run_study(
        config,
        args.out,
        connect=lambda: cluster.connect(settings),
        show_progress=sys.stderr.isatty(),
        note=note,
        resume=args.resume,
        scenario=getattr(args, "scenario", None),
        tag=args.tag,
    )
    print()
    print(format_summary(result))
    if "delta" in result:
        print("\n" + format_delta(args.scenario, result["delta"]))
        print(f"\noutputs in {local / 'scenarios' / args.scenario}: footprint.zarr, summary.json")
    else:
        extra = ", scenarios/" if config.scenarios else ""
        print(f"\noutputs in {local}: footprint.zarr, summary.json, maps/{extra}")
    print(f"committed to {args.out}/footprint (footprint-map history {args.out})")
    for warning in result.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    return result


def cmd_run(args) -> int:
    """``footprint-map run``."""
    from cluster import checked_settings
    from pipeline.workflow.config import load_config

    checked_settings(_flag_settings(args))  # bad flags fail before anything is read
    _run_config(load_config(args.config, inputs=args.inputs), args)
    return 0


def cmd_demo(args) -> int:
    """``footprint-map demo``."""
    from cluster import checked_settings
    from pipeline.demo.build import build_demo_inputs, parse_resolution
    from pipeline.demo.world import parse_foreign
    from pipeline.resources import config_file
    from pipeline.storage.lock import output_lock
    from pipeline.storage.versions import ensure_writable_dir
    from pipeline.workflow.config import load_config
    from pipeline.workflow.outputs import run_output
    from pipeline.workflow.run import SYNTHETIC_NOTE

    checked_settings(_flag_settings(args))
    resolution = parse_resolution(args.resolution)
    foreign = parse_foreign(args.foreign)
    local = run_output(args.out).local  # the demo's config has no [storage]: AWS_* only
    with output_lock(ensure_writable_dir(local)):  # also covers DIR/inputs
        inputs = local / "inputs"
        print(f"[0] demo inputs (synthetic, seed {args.seed}) -> {inputs}")
        build_demo_inputs(inputs, resolution_m=resolution, seed=args.seed, foreign=foreign)
        config = _demo_config(load_config(config_file("demo.toml"), inputs=inputs), foreign)
        _run_config(config, args, note=SYNTHETIC_NOTE)
    return 0


def _demo_config(config, foreign: int):
    """``config/demo.toml`` for ``foreign`` foreign regions: its study name says how many."""
    from pipeline.demo.world import DEFAULT_FOREIGN

    if foreign == DEFAULT_FOREIGN:
        return config
    name = config.study.name.replace(f"{DEFAULT_FOREIGN}-region", f"{foreign}-region")
    return config.with_overrides(study={"name": name})


#: The Dask log of ``run`` / ``demo`` in ``--out``.
LOG_NAME = "footprint-map.log"
#: What to do about an OS error, by errno.
_OS_FIXES = {
    errno.ENOSPC: "free disk space or choose another --out",
    errno.EDQUOT: "free space within your disk quota or choose another --out",
    errno.EACCES: "check the file's permissions or choose another --out",
    errno.EPERM: "check the file's permissions or choose another --out",
    errno.EROFS: "the file system is read-only; choose another --out",
    errno.EIO: "the disk or network file system reported an I/O error; check it and rerun",
    errno.ELOOP: "a symbolic link points to itself (a loop); fix or remove the link",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a path component is a file, not a directory; check the path",
    errno.EISDIR: "the path is a directory; give a file",
}


def _os_error_line(exc: OSError) -> str:
    """One line for an OS error: the file, what failed and the fix."""
    if isinstance(exc, TimeoutError) or exc.errno is None:
        what = str(exc) or type(exc).__name__
        return f"{what}; check that the Dask scheduler and workers are running, then rerun"
    where = f"{exc.filename}: " if exc.filename else ""
    name = errno.errorcode.get(exc.errno, str(exc.errno))
    fix = _OS_FIXES.get(exc.errno, "check the path and the file system")
    return f"{where}{exc.strerror or exc} ({name}); {fix}"


def _internal_error(exc: BaseException, args) -> str:
    """Write the traceback to a log file (in --out if usable); return its path."""
    text = "".join(traceback.format_exception(exc))
    out = getattr(args, "out", None)
    if out is not None:
        try:
            log = Path(out) / "footprint-map-error.log"
            log.write_text(text)
            return str(log)
        except OSError:
            pass
    fd, name = tempfile.mkstemp(prefix="footprint-map-error-", suffix=".log")
    with open(fd, "w") as fh:
        fh.write(text)
    return name


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _run_handler(handler, args) -> int:
    """Run ``handler(args)``; turn every failure into one stderr line and an exit status."""
    from distributed.scheduler import KilledWorker

    from pipeline.workflow.keys import naming_keys

    try:
        with naming_keys():  # library errors name their arguments; the user's file has keys
            return handler(args)
    except FootprintError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted; the previous complete result was kept", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {_one_line(_os_error_line(exc))}", file=sys.stderr)
    except concurrent.futures.CancelledError:
        print(
            "error: the Dask scheduler cancelled the run's tasks (connection lost?); "
            "check the scheduler and rerun",
            file=sys.stderr,
        )
    except KilledWorker as exc:
        print(
            f"error: Dask workers died running {_one_line(exc)[:200]}; "
            "usually out of memory: raise --memory-limit or use fewer --threads",
            file=sys.stderr,
        )
    except MemoryError:
        print("error: out of memory; raise --memory-limit or use a bigger machine", file=sys.stderr)
    except Exception as exc:  # a bug: say so, keep the traceback
        log = _internal_error(exc, args)
        print(
            f"internal error: {type(exc).__name__}: {_one_line(exc)[:300]}; "
            f"this is a bug in footprint-map; the traceback is in {log}",
            file=sys.stderr,
        )
        return 1
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``footprint-map`` console script."""
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
    handlers = {"run": cmd_run, "demo": cmd_demo, "query": cmd_query, "report": cmd_report}
    handlers["export"] = cmd_export
    handlers["zonal"] = cmd_zonal
    handlers["history"] = cmd_history
    return _run_handler(handlers[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
