"""The two reference rows of every study, computed once per seed and valid at any ratio: ``full``
pre-trains on the whole pool (R = 1), ``scratch`` does not pre-train at all (R = 0). Neither names a
selector, so no plugin may register these names."""
FULL = "full"
SCRATCH = "scratch"
REFERENCES = (FULL, SCRATCH)
