"""Turning a run's long results table into comparison tables, statistics and plots."""
