"""The `ci` regression: the built-in selectors' scores under the `ci` protocol hold against the committed
baseline (baselines/ci.json, made by `delbench regress --update`): bit for bit where the fingerprint
matches the baseline's, within the statistical tolerances elsewhere."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.protocol import load_protocol
from delbench.score.regress import choose_mode, fingerprint, read_baseline

BASELINE = Path(__file__).resolve().parents[1] / "baselines" / "ci.json"


@pytest.mark.slow
def test_ci_baseline_holds(tmp_path):
    mode, _ = choose_mode("auto", read_baseline(BASELINE), fingerprint(load_protocol("ci")))
    result = CliRunner().invoke(cli, ["regress", "--protocol", "ci", "--baseline", str(BASELINE),
                                      "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert f"mode: {mode}" in result.output
    assert "within tolerance" in result.output
    if mode == "exact":  # a fresh cache: everything recomputed, and still identical
        assert "per-seed rows identical" in result.output
