"""The plan a study prints before it starts: its units, their steps, what the cache already holds, an
estimate from given rates; `--dry-run` does no work and writes nothing."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.compare.calibrate import Rates
from delbench.compare.cost import PlannedUnit, plan_study, schedule
from delbench.compare.plan import CompareConfig, check_config
from tests.test_pretrain_util import make_root, tiny_protocol

# one second per pre-training step, nothing else: the estimate then counts the steps left to run
STEP_ONLY = Rates(pretrain_step=1.0, forward_image=0.0, predict_image=0.0, finetune_step=0.0, task_setup=0.0, eval_image=0.0,
                  decode_image=0.0, worker_start=0.0)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("plan-root"))


def study(root: Path, cache: Path, **kw: object) -> CompareConfig:
    base = dict(selectors=("random",), protocol=tiny_protocol(), data=root, cache=cache, seeds=(0, 1), ratios=(0.5,),
                jobs=1)
    return CompareConfig(**{**base, **kw})  # type: ignore[arg-type]


def planned(config: CompareConfig, rates: Rates = STEP_ONLY):
    checked = check_config(config)
    return plan_study(replace(config, params=checked.params), checked, rates)


def by_unit(plan) -> dict[tuple[str, int], PlannedUnit]:
    return {(u.selector, u.seed): u for u in plan.units}


def test_a_fresh_cache_holds_nothing_and_every_step_is_counted(root: Path, tmp_path: Path) -> None:
    plan = planned(study(root, tmp_path / "cache"))
    steps = tiny_protocol().pretrain_steps(24)
    assert [(u.selector, u.seed) for u in plan.units] == [("random", 0), ("random", 1), ("full", 0), ("scratch", 0),
                                                          ("full", 1), ("scratch", 1)]
    assert len(plan.pretraining()) == 4 and all(start == 0 for _, start in plan.pretraining().values())
    assert all(u.tasks_cached == 0 and u.tasks == 2 for u in plan.units)
    assert plan.units_seconds == pytest.approx(4 * steps)
    assert plan.select_stages == 2 and plan.select_cached == 0


def test_planted_stages_are_counted_as_cached_or_resumable(root: Path, tmp_path: Path) -> None:
    from delbench.evaluate.stage import evaluate
    from delbench.pretrain.stage import pretrain

    cache = tmp_path / "cache"
    p = tiny_protocol()
    steps = p.pretrain_steps(24)
    pretrain(root, p, cache / "stages", subset=None, seed=0)  # full, seed 0: done
    pretrain(root, p, cache / "stages", subset=None, seed=1, stop_after=2)  # full, seed 1: a checkpoint at step 2
    evaluate(root, p, cache / "stages", checkpoint=None, seed=1, tasks=["alpha"])  # scratch, seed 1: one task
    plan = planned(study(root, cache))
    units = by_unit(plan)
    assert units["full", 0].start == steps and units["full", 1].start == 2
    assert units["scratch", 1].tasks_cached == 1 and units["scratch", 0].tasks_cached == 0
    # to run: two random runs in full, the rest of full seed 1
    assert plan.units_seconds == pytest.approx(2 * steps + steps - 2)


def test_a_cluster_plan_looks_up_pre_training_at_its_world_size(root: Path, tmp_path: Path) -> None:
    from delbench.compare.executors import ExecutorOptions
    from delbench.pretrain.stage import stage_dir
    from delbench.store.cache import DONE

    cache = tmp_path / "cache"
    p = tiny_protocol(**{"resources.gpus_per_unit": 2})
    steps = p.pretrain_steps(24)
    for world, seed in ((1, 0), (2, 1)):  # planted as done: full seed 0 by one process, seed 1 by two
        where = stage_dir(root, p, cache / "stages", None, seed, world)
        where.mkdir(parents=True)
        (where / DONE).write_text("{}")
        (where / "weights.safetensors").write_bytes(b"planted")
    starts = {}
    for kind in ("local", "submitit-local"):
        units = by_unit(planned(study(root, cache, protocol=p, executor=ExecutorOptions(kind))))
        starts[kind] = (units["full", 0].start, units["full", 1].start)
    assert starts["local"] == (steps, 0)
    assert starts["submitit-local"] == (0, steps)


@pytest.mark.slow
def test_after_a_whole_run_everything_is_cached(root: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = ["compare", "random", "--protocol", str(write_tiny(tmp_path)), "--data", str(root), "--cache", str(cache),
            "--out", str(tmp_path / "run"), "--seeds", "0,1", "--ratios", "0.5", "--jobs", "1", "--no-plots"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "plan: ci v" in first.output and "estimate:" in first.output
    from delbench.protocol import load_protocol

    plan = planned(study(root, cache, protocol=load_protocol(write_tiny(tmp_path))))
    assert plan.select_cached == plan.select_stages == 2
    assert all(start == steps for steps, start in plan.pretraining().values())
    assert all(u.tasks_cached == u.tasks for u in plan.units)
    assert plan.units_seconds == 0
    again = CliRunner().invoke(cli, args + ["--dry-run"])
    assert "cached 4, to run 0" in again.output, again.output


def write_tiny(tmp_path: Path) -> Path:
    """``tiny_protocol`` as a file, for the command line."""
    import json

    d = tiny_protocol().to_dict()
    lines = [f"name = {json.dumps(d.pop('name'))}", f"version = {d.pop('version')}",
             f"seeds = {json.dumps(list(d.pop('seeds')))}", f"description = {json.dumps(d.pop('description'))}"]
    for section, values in d.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in values.items()]
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def snapshot(*dirs: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for d in dirs:
        for base, subdirs, files in os.walk(d):
            for name in subdirs + files:
                st = os.lstat(os.path.join(base, name))
                out[os.path.join(base, name)] = (st.st_mtime_ns, st.st_size)
    return out


@pytest.mark.parametrize("command", [["compare", "random"], ["validate"], ["regress", "--update"]])
def test_dry_run_does_no_work_and_writes_nothing(root: Path, tmp_path: Path, command: list[str]) -> None:
    from delbench.pretrain.stage import pretrain

    cache, out = tmp_path / "cache", tmp_path / "run"
    pretrain(root, tiny_protocol(), cache / "stages", subset=None, seed=0, stop_after=2)  # a cache with something in it
    protocol = write_tiny(tmp_path)
    before = snapshot(tmp_path, root)
    data = ["--data", str(root)] if command[0] != "regress" else []
    baseline = ["--baseline", str(tmp_path / "baseline.json")] if command[0] == "regress" else []
    res = CliRunner().invoke(cli, [*command, "--protocol", str(protocol), *data, *baseline,
                                   "--cache", str(cache), "--out", str(out), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "plan: ci v" in res.output and "estimate:" in res.output
    assert snapshot(tmp_path, root) == before
    assert not out.exists() and not (tmp_path / "baseline.json").exists()


def test_dry_run_with_bad_input_fails_with_one_line_and_writes_nothing(root: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["compare", "nope", "--protocol", "ci", "--data", str(root), "--cache",
                                   str(tmp_path / "cache"), "--out", str(tmp_path / "run"), "--dry-run"])
    assert res.exit_code != 0
    assert len(res.output.strip().splitlines()) == 1 and "nope" in res.output
    assert not list(tmp_path.iterdir())


def test_dry_run_on_synthetic_data_not_yet_generated_plans_from_its_scale(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["compare", "random", "--protocol", "ci", "--cache", str(tmp_path / "cache"),
                                   "--out", str(tmp_path / "run"), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "288 pool frames (generated first)" in res.output and "4 tasks" in res.output
    assert not list(tmp_path.iterdir())


def test_schedule_spreads_units_over_workers_and_sharers_wait() -> None:
    def unit(sel: str, seconds: float, trains: str | None) -> PlannedUnit:
        return PlannedUnit(sel, 0.5, 0, 10, 0, trains, 1, 0, seconds)

    units = [unit("a", 10, "a"), unit("b", 10, "b"), unit("c", 4, "c"), unit("full-sharer", 0, "a")]
    assert schedule(units, 1, 0.0) == 24
    # two workers: a and b from 0 to 10, c from 10 to 14; the sharer of a starts at 10 and ends at 10
    assert schedule(units, 2, 1.0) == 15
    assert schedule([unit("a", 10, "a"), unit("x", 1, None), unit("sharer", 0, "a")], 2, 0.0) == 10


def test_the_bar_shows_a_given_eta_counting_down() -> None:
    import time

    from delbench.progress import rich_progress

    bar = rich_progress(eta=True, disable=True)
    task_id = bar.add_task("units", total=1.0, eta_s=125.0, eta_at=time.monotonic())
    eta = bar.columns[-1]
    assert str(eta.render(bar.tasks[task_id])) in ("0:02:05", "0:02:04")
    bar.update(task_id, eta_s=125.0, eta_at=time.monotonic() - 65)
    assert str(eta.render(bar.tasks[task_id])) in ("0:01:00", "0:00:59")
    plain = bar.add_task("stage", total=1.0)  # no estimate of its own: rich's, from the pace
    assert str(eta.render(bar.tasks[plain])) == "-:--:--"
