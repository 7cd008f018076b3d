"""Baseline making and checking, on a hand-made results table."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from delbench.errors import DelbenchError
from delbench.regress import TOLERANCE_FLOOR, check_protocol, compare_to_baseline, make_baseline
from tests.test_report import fake_results


@dataclass
class FakeProtocol:
    name: str = "ci"
    version: int = 1

    def hash(self) -> str:
        return "h"


def test_baseline_passes_on_same_results_and_fails_when_altered():
    res = fake_results()
    base = make_baseline(res, FakeProtocol())
    assert compare_to_baseline(res, base)["ok"].all()
    e = base["entries"][0]
    assert e["miou_tol"] >= TOLERANCE_FLOOR
    e["miou"] += 2 * e["miou_tol"]
    table = compare_to_baseline(res, base)
    bad = table[~table["ok"]]
    assert len(bad) == 1 and bad.iloc[0]["selector"] == e["selector"] and bad.iloc[0]["metric"] == "miou"


def test_tolerance_follows_seed_spread():
    res = fake_results()
    noisy = res.copy()
    noisy.loc[noisy["seed"] == 0, "miou"] += 0.1
    assert make_baseline(noisy, FakeProtocol())["entries"][0]["miou_tol"] > make_baseline(res, FakeProtocol())["entries"][0]["miou_tol"]


def test_missing_cell_is_a_failure():
    res = fake_results()
    base = make_baseline(res, FakeProtocol())
    table = compare_to_baseline(res[res["selector"] != "meddel"], base)
    assert not table[table["selector"] == "meddel"]["ok"].any()


def test_version_mismatch_is_refused():
    base = make_baseline(fake_results(), FakeProtocol(version=1))
    with pytest.raises(DelbenchError, match="version"):
        check_protocol(base, FakeProtocol(version=2))
