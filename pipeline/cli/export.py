"""``footprint-map export``: the whole store as NetCDF, COGs or a GDAL-readable zarr."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.results.export_formats import DEFAULT_NAMES, FORMATS

EPILOG_EXPORT = """examples:
  footprint-map export demo-out --format netcdf         # demo-out/footprint.nc
  footprint-map export demo-out --format cog            # demo-out/footprint-cog/*.tif
  footprint-map export demo-out --format zarr-gdal --output /data/footprint-gdal.zarr
  footprint-map export s3://bucket/study --format zarr --output study.zarr   # plain zarr v3
  gdalinfo NETCDF:"demo-out/footprint.nc":footprint     # one band per consumer
  gdalinfo 'ZARR:"demo-out/footprint-gdal.zarr":/foreign_footprint'

netcdf: one CF-1.10 NetCDF4 file of the whole store, footprint (per consumer)
included. cog: one Cloud-Optimized GeoTIFF per cube (foreign_footprint,
footprint, footprint_by_sector, footprint_by_category, emissions), one band
per consumer, sector or category, described by its label, with overviews.
zarr-gdal: a zarr v2 copy (zlib, no sharding) with labels as attributes.
zarr: a plain zarr v3 store of every variable, for tools that do not read the
icechunk repository DIR/footprint (results on object storage need --output).
Everything is written chunk by chunk on local threads; no cube is held whole.
"""


def add_export_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``footprint-map export``."""
    export = subparsers.add_parser(
        "export",
        help="write the whole store as CF NetCDF, Cloud-Optimized GeoTIFFs or GDAL zarr",
        epilog=EPILOG_EXPORT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Export a results directory's store for GIS and CF tools (QGIS, GDAL, "
        "netCDF readers).",
    )
    export.add_argument("dir", metavar="DIR|URL", help="results directory or URL (--out of run)")
    export.add_argument("--format", choices=FORMATS, required=True, help="output format")
    defaults = ", ".join(f"{fmt}: DIR/{name}" for fmt, name in DEFAULT_NAMES.items())
    export.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help=f"NetCDF file, COG directory or zarr store (default {defaults})",
    )
    return export


def cmd_export(args) -> int:
    """``footprint-map export``."""
    from pipeline.errors import ConfigError
    from pipeline.results.api import open_results
    from pipeline.results.export_formats import default_output, export_store

    if args.output is None and "://" in args.dir:
        raise ConfigError(
            f"{args.dir} is on object storage; give --output, a local path for the export"
        )
    results = open_results(args.dir)
    output = args.output or default_output(results.directory, args.format)
    export_store(results.ds, args.format, output)
    return 0
