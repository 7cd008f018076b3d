"""End to end: `delbench regress` must catch a broken selector. A baseline recorded with the real built-ins
passes on unchanged code (exact mode: same fingerprint); then ``meddel`` is replaced, through the plugin
system, by a selector that keeps the disruptive frames first. Its fingerprint differs, so the check is
statistical, and it must fail on meddel's rows and on no other selector's.

On this protocol pre-training barely lifts meddel above the scratch reference, so its tolerance (at most
half its distance to scratch) is near zero: any real change of its subset's scores fails, and a collapse
to the scratch level fails too."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from delbench.plugin import manager as plugins
from delbench.cli import cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# the synthetic "ci" pool (it records which frames are disruptive), one ratio (0.25), two seeds, two tasks
TINY = Path(__file__).parent / "protocols" / "tiny.toml"
# Every built-in entry point but meddel: the name "meddel" is then free for the broken one.
NOT_MEDDEL = "random,coreset,dedup-only,datasets,reference"
BROKEN = '''
from delbench import hookimpl
from delbench_reference import AdversarySelector


class BrokenMedDEL(AdversarySelector):
    """meddel with its ranking turned upside down: disruptive frames first."""

    name = "meddel"


@hookimpl
def delbench_register_selectors(register):
    register(BrokenMedDEL)
'''


def regress(proto: Path, baseline: Path, work: Path, *more: str) -> tuple[int, str]:
    # a fresh cache every time, so no stage (a selection above all) is reused across runs
    args = ["regress", "--protocol", str(proto), "--baseline", str(baseline), "--out", str(work / "run"),
            "--cache", str(work / "cache"), *more]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output + (f"\n{result.exception!r}" if result.exception and result.exit_code != 1 else "")


def test_regress_catches_a_broken_meddel(tmp_path, monkeypatch):
    proto, baseline = TINY, tmp_path / "baseline.json"
    monkeypatch.delenv(plugins.ENV_ONLY, raising=False)
    monkeypatch.delenv(plugins.ENV_DISABLE, raising=False)
    plugins.reset()

    code, out = regress(proto, baseline, tmp_path / "record", "--update")
    assert code == 0, out
    code, out = regress(proto, baseline, tmp_path / "same")
    assert code == 0, out
    assert "mode: exact" in out and "identical" in out

    if importlib.util.find_spec("delbench_reference") is None:  # a checkout not reinstalled since it was added
        monkeypatch.syspath_prepend(str(ROOT / "plugins"))
    (tmp_path / "broken_meddel.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    broken = importlib.import_module("broken_meddel")
    monkeypatch.setenv(plugins.ENV_ONLY, NOT_MEDDEL)
    try:
        with plugins.temporary_plugin(broken, "broken-meddel") as loaded:
            assert loaded.selectors.get("meddel").factory is broken.BrokenMedDEL
            code, out = regress(proto, baseline, tmp_path / "broken")
    finally:
        sys.modules.pop("broken_meddel", None)
    assert code != 0, out
    # the implementation changed, so the check could not be exact and says why
    assert "mode: statistical" in out and "selectors.meddel" in out
    failed = out.split("regressed:")[1].split(";")[0]
    assert "meddel R=0.25" in failed
    # the other selectors chose what they chose before, so their scores are unchanged
    assert not any(f"{other} R=" in failed for other in ("random", "coreset", "dedup-only", "full", "scratch")), failed
