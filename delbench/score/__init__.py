"""Stage score: NormDEL, statistics with the seed as the unit, baselines (regress), the validity ladder."""
