"""Scoring many inputs: the batch runner (worker processes or a Dask cluster), resuming an
interrupted run, the output files (one JSON per input, summary.csv) and the cohort report."""
