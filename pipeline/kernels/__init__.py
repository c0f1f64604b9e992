"""Pure numpy/scipy kernels (no I/O, no dask, no pandas)."""
