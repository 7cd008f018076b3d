"""The equal-compute budget and its cap: the same steps for every ratio, a bound on any pool for `ci` and
`smoke`, a cache key that an unbinding cap leaves alone, and a printed budget computed from the
protocol and the pool."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.errors import DelbenchError
from delbench.protocol import from_dict, load_protocol
from tests.test_pretrain_util import make_root, tiny_protocol


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("budget-root"))


@pytest.mark.parametrize("name, own_pool, cap", [("ci", 288, 180), ("smoke", 1920, 300)])
def test_ci_and_smoke_are_bounded_on_any_pool_and_unchanged_on_their_own(name: str, own_pool: int, cap: int) -> None:
    p = load_protocol(name)
    assert p.pretrain.max_steps == cap
    assert all(p.pretrain_steps(n) <= cap for n in range(1, 10_001, 7))
    assert p.pretrain_steps(10_000) == cap and p.cap_binds(10_000)
    # on the synthetic pool the protocol was measured on, the cap leaves the run as it was
    assert p.pretrain_steps(own_pool) == p.uncapped_steps(own_pool) == cap and not p.cap_binds(own_pool)


def test_no_cap_grows_with_the_pool() -> None:
    p = load_protocol("small")
    assert p.pretrain.max_steps == 0
    assert p.pretrain_steps(16_800) == 1575 and p.pretrain_steps(33_600) == 3150


def test_a_binding_cap_gives_every_ratio_the_same_capped_steps(root: Path, tmp_path: Path) -> None:
    from delbench.pretrain.stage import pretrain

    p = tiny_protocol(**{"pretrain.epochs_at_full": 4.0, "pretrain.max_steps": 5})
    assert p.uncapped_steps(24) == 24 and p.pretrain_steps(24) == 5
    runs = [pretrain(root, p, tmp_path, subset=s, seed=0) for s in (None, np.arange(0, 24, 2), np.arange(3))]
    assert [r.steps for r in runs] == [5, 5, 5]
    assert sorted(r.meta["n_items"] for r in runs) == [3, 12, 24]


def test_the_stage_key_changes_only_where_the_cap_binds(root: Path) -> None:
    from delbench.pretrain.stage import stage_config

    plain = tiny_protocol()  # 6 steps on the 24-frame root
    loose = tiny_protocol(**{"pretrain.max_steps": 6})
    tight = tiny_protocol(**{"pretrain.max_steps": 5})
    assert stage_config(root, loose, None, 0) == stage_config(root, plain, None, 0)
    assert stage_config(root, tight, None, 0) != stage_config(root, plain, None, 0)
    assert stage_config(root, tight, None, 0)["steps"] == 5


def test_bad_caps_and_the_old_budget_key_fail_with_one_line() -> None:
    raw = load_protocol("ci").to_dict()
    raw["pretrain"]["max_steps"] = -1
    with pytest.raises(DelbenchError, match=r"max_steps must be >= 0"):
        from_dict(raw)
    raw = load_protocol("ci").to_dict()
    raw["budget"] = "<= 2 min"
    with pytest.raises(DelbenchError, match="'budget' is no longer a protocol key"):
        from_dict(raw)


def test_printed_budget_is_computed_from_the_protocol_and_the_pool(tmp_path: Path) -> None:
    small_pool = make_root(tmp_path / "small", n_pool=24)
    big_pool = make_root(tmp_path / "big", n_pool=400)

    def budget_line(data: Path | None, name: str) -> str:
        res = CliRunner().invoke(cli, ["protocols", *(["--data", str(data)] if data else [])])
        assert res.exit_code == 0, res.output
        lines = res.output.splitlines()
        return lines[next(i for i, ln in enumerate(lines) if ln.startswith(f"{name} ")) + 1]

    assert "the synthetic ci pool (288 frames, 4 tasks): 180 pre-training steps per unit" in budget_line(None, "ci")
    assert "the synthetic smoke pool (1,920 frames, 3 tasks): 300 pre-training steps" in budget_line(None, "smoke")
    # 20 epochs of 24 frames at batch 32: 15 steps; of 400 frames: 250, capped at 180
    assert "(24 frames, 2 tasks): 15 pre-training steps per unit (20 epochs at 100%; at most 180" in budget_line(small_pool, "ci")
    assert "(400 frames, 2 tasks): 180 pre-training steps per unit (20 epochs at 100%, capped;" in budget_line(big_pool, "ci")
    assert "(400 frames, 2 tasks): 38 pre-training steps per unit (3 epochs at 100%; no cap" in budget_line(big_pool, "small")
    assert "2 x 800 probe steps" in budget_line(big_pool, "small")


def test_budget_in_seconds_follows_the_rates() -> None:
    from delbench.compare.budget import synthetic_budget
    from delbench.compare.calibrate import Rates

    rates = Rates(pretrain_step=0.1, forward_image=0.0, predict_image=0.0, finetune_step=0.0, task_setup=1.0,
                  eval_image=0.0, decode_image=0.0, worker_start=0.0)
    budget = synthetic_budget(load_protocol("ci"))
    assert budget.unit_seconds(rates) == pytest.approx(180 * 0.1 + 4 * 1.0)
    # beside one busy process on one CPU, a process of ours gets half of it
    assert budget.unit_seconds(Rates(**{**rates.to_dict(), "others": 1.0})) == pytest.approx(2 * (18 + 4))


def test_missing_data_root_fails_with_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["protocols", "--data", str(tmp_path / "nope")])
    assert res.exit_code != 0
    assert len(res.output.strip().splitlines()) == 1 and "manifest" in res.output
