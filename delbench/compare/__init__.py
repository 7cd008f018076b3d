"""Head-to-head runs of selectors under one protocol, into a run directory of results."""
