"""Datasets: the manifest contract, the synthetic DataDEL, real-data adapters, integrity checks."""
