"""The `ci` regression: the built-in selectors' scores under the `ci` protocol stay within the
tolerances of the committed baseline (baselines/ci.json, made by `delbench regress --update`)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from delbench.cli import cli

BASELINE = Path(__file__).resolve().parents[1] / "baselines" / "ci.json"


@pytest.mark.slow
def test_ci_baseline_holds(tmp_path):
    result = CliRunner().invoke(cli, ["regress", "--protocol", "ci", "--baseline", str(BASELINE),
                                      "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "within tolerance" in result.output
