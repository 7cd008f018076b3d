"""The `ci` regression: the built-in selectors' scores under the `ci` protocol hold against the committed
baseline (baselines/ci.json, made by `delbench regress --update`): bit for bit where the fingerprint
matches the baseline's, within the statistical tolerances elsewhere."""
from __future__ import annotations

from pathlib import Path

import pytest

from delbench.protocol import load_protocol
from delbench.score.regress import choose_mode, fingerprint, read_baseline

BASELINE = Path(__file__).resolve().parents[1] / "baselines" / "ci.json"


@pytest.mark.slow
def test_ci_baseline_holds(ci_regress):
    mode, _ = choose_mode("auto", read_baseline(BASELINE), fingerprint(load_protocol("ci")))
    result, _, _ = ci_regress  # regress against BASELINE into a fresh cache (conftest.py)
    assert result.exit_code == 0, result.output
    assert f"mode: {mode}" in result.output
    assert "within tolerance" in result.output
    if mode == "exact":  # a fresh cache: everything recomputed, and still identical
        assert "per-seed rows identical" in result.output
