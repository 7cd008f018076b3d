"""The plan a study prints before it starts, and the bar that follows it with an ETA.

Shared by ``compare``, ``validate`` and ``regress``: each checks its options, prints the plan
(``delbench.compare.cost``), stops there under ``--dry-run``, and otherwise runs under the bar.
"""
from __future__ import annotations

import contextlib
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from delbench.compare.cost import duration

if TYPE_CHECKING:
    from delbench.compare.cost import Plan
    from delbench.compare.plan import CompareConfig
    from delbench.progress import Progress


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def make_plan(config: CompareConfig, *, plots: bool) -> Plan:
    """Check the study's options and its run directory (one line on bad input or another study there,
    before anything else) and plan it."""
    from delbench.compare.cost import plan_study
    from delbench.compare.plan import check_config, check_run_dir

    checked = check_config(config)
    check_run_dir(config, checked)
    return plan_study(replace(config, params=checked.params), checked, plots=plots)


def replanner(config: CompareConfig, plan: Plan, *, plots: bool) -> Callable[[], Plan]:
    """The plan made again, with the same rates, once the subsets are selected: selectors that kept
    the same subset then share one run, which no plan can know before selecting."""
    from delbench.compare.cost import plan_study
    from delbench.compare.plan import check_config

    def again() -> Plan:
        checked = check_config(config)
        return plan_study(replace(config, params=checked.params), checked, plan.rates, plots=plots)

    return again


def plan_lines(plan: Plan) -> list[str]:
    """The plan as lines of at most 80 columns."""
    p, ft = plan.protocol, plan.protocol.finetune
    runs = plan.pretraining()
    steps = next(iter(runs.values()))[0] if runs else 0
    done = sum(1 for s, start in runs.values() if start >= s)
    resuming = sorted(start for s, start in runs.values() if 0 < start < s)
    pool = f"{plan.pool_frames:,} pool frames" + ("" if plan.on_disk else " (generated first)")
    lines = [f"plan: {p.name} v{p.version}, {pool}, {count(len(plan.tasks), 'task')}, {len(plan.units)} units, "
             f"{count(plan.workers, 'worker')}"]
    uncapped = p.uncapped_steps(plan.pool_frames)
    own = p.pretrain_steps(plan.pool_frames)
    cap = f" ({p.pretrain.epochs_at_full:g} epochs at 100% = {uncapped:,}, capped)" if uncapped > own else ""
    budgets = sorted({u.budget for u in plan.units if u.trains is not None})
    if budgets in ([], [1.0]):
        lines.append(f"  pre-training: {count(len(runs), 'run')} of {steps:,} steps{cap}")
    else:  # each budget its own runs and schedule; the protocol's own steps are the 1 they scale
        per = {b: {u.trains for u in plan.units if u.trains is not None and u.budget == b} for b in budgets}
        each = ", ".join(f"{len(per[b])} of {p.budget_steps(plan.pool_frames, b):,} steps (budget {b:g})" for b in budgets)
        own_text = f"; budget 1 = {own:,} steps{cap}" if cap or 1.0 not in budgets else ""  # what each is a share of
        lines.append(f"  pre-training: {count(len(runs), 'run')}: {each}{own_text}")
    if runs:
        rest = f", {len(resuming)} resume from step {', '.join(map(str, resuming))}" if resuming else ""
        lines.append(f"    cached {done}{rest}, to run {len(runs) - done - len(resuming)}")
    seen: set[str] = set()
    distinct = []  # units that evaluate something of their own (a unit sharing a run shares its evaluations)
    for u in plan.units:
        if u.trains is None or u.trains not in seen:
            distinct.append(u)
        if u.trains is not None:
            seen.add(u.trains)
    lines.append(f"  evaluation: {count(sum(u.tasks for u in distinct), 'fine-tune')} ({ft.mode}, {ft.steps} steps each); "
                 f"cached {sum(u.tasks_cached for u in distinct)}")
    lines.append(f"  selection: {count(plan.select_stages, 'stage')}; cached {plan.select_cached} (not timed)")
    lines.append(f"  {'unit':<22}{'seeds':>6}{'steps':>8}{'trained':>9}{'evaluated':>11}{'est.':>12}")
    for (sel, ratio, budget), group in _groups(plan).items():
        name = sel if sel in ("full", "scratch") else f"{sel} R={ratio:g}"
        name += "" if budget == 1.0 else f" b={budget:g}"
        trained = f"{sum(1 for u in group if u.start >= u.steps)}/{len(group)}" if group[0].trains else "-"
        evaluated = f"{sum(u.tasks_cached for u in group)}/{sum(u.tasks for u in group)}"
        steps_text = f"{group[0].steps:,}" if group[0].trains else "-"
        seconds = sum(u.seconds for u in group)
        lines.append(f"  {name:<22}{len(group):>6}{steps_text:>8}{trained:>9}{evaluated:>11}{duration(seconds):>12}")
    before = sum(s for _, s in plan.before)
    r = plan.rates
    beside = (f"; other work weighing {r.others:.1f} busy processes of this priority, on {r.cpus} CPUs"
              if r.device == "cpu" else "")
    per = "CPU second" if r.device == "cpu" else "second"
    lines += textwrap.wrap(
        f"estimate: {duration(plan.seconds)} on this machine: {duration(before)} before the units, "
        f"{duration(plan.units_seconds)} of units on {count(plan.workers, 'worker')}, {duration(plan.after)} of tables "
        f"(measured: {1 / r.pretrain_step:,.1f} pre-training steps per {per}{beside})", 80, subsequent_indent="  ")
    return [wrapped for line in lines for wrapped in (textwrap.wrap(line, 80, subsequent_indent="      ",
                                                                    drop_whitespace=False) or [line])]


def _groups(plan: Plan) -> dict[tuple[str, float, float], list[Any]]:
    out: dict[tuple[str, float, float], list[Any]] = {}
    for u in plan.units:
        out.setdefault((u.selector, u.ratio, u.budget), []).append(u)
    return out


def show_plan(console: Any, plan: Plan) -> None:
    for line in plan_lines(plan):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


@contextlib.contextmanager
def study_bar(console: Any, plan: Plan, replan: Callable[[], Plan] | None = None
              ) -> Iterator[tuple[Progress, Callable[[int], None], Callable[[Any], None]]]:
    """``(progress, on_total, done)`` for ``run_compare``, drawing the units bar with the elapsed time
    and an ETA: the plan's estimate at first (``replan``'s once the subsets are known), then more and
    more the pace of the units that finished."""
    from delbench.errors import DelbenchError
    from delbench.progress import rich_progress

    weights = plan.unit_seconds()
    total_work = sum(weights.values()) or 1.0
    start = time.monotonic()
    state = {"done": 0, "total": len(plan.units), "work": 0.0, "units_from": None}
    with rich_progress(console, eta=True) as bar:
        units = bar.add_task("preparing", total=total_work, eta_s=plan.seconds, eta_at=start)
        stage = bar.add_task("", total=1.0)

        def eta() -> float:
            now = time.monotonic()
            share = state["work"] / total_work
            planned = plan.units_seconds * (1 - share) + plan.after
            if state["units_from"] is None:
                return max(0.0, plan.seconds - (now - start))
            if share <= 0:
                return max(0.0, plan.units_seconds + plan.after - (now - state["units_from"]))
            observed = (now - state["units_from"]) * (1 - share) / share + plan.after
            return share * observed + (1 - share) * planned  # trust the pace more as more of it is seen

        def label() -> str:
            return f"units {state['done']}/{state['total']} (pre-train + evaluate)"

        def progress(fraction: float, message: str = "") -> None:
            bar.update(stage, description=message[:70], completed=min(max(fraction, 0.0), 1.0))
            if state["units_from"] is None:
                bar.update(units, eta_s=eta(), eta_at=time.monotonic())

        def on_total(n: int) -> None:
            nonlocal plan, weights, total_work
            if replan is not None:
                first = len(plan.pretraining())
                try:
                    plan = replan()
                except DelbenchError:
                    pass  # the ETA keeps the first plan; the run itself reports what is wrong
                weights = plan.unit_seconds()
                total_work = sum(weights.values()) or 1.0
                if len(plan.pretraining()) != first:
                    bar.console.print(f"selected: {count(len(plan.pretraining()), 'pre-training run')}, not {first} "
                                      f"(identical subsets share one); estimate now "
                                      f"{duration(plan.units_seconds + plan.after)} from here, "
                                      f"{duration(time.monotonic() - start)} in",
                                      highlight=False, markup=False)
            state["total"], state["units_from"] = n, time.monotonic()
            bar.update(units, total=total_work, description=label(), eta_s=eta(), eta_at=time.monotonic())

        def done(unit: Any) -> None:
            state["done"] += 1
            step = weights.get((unit.selector, unit.ratio_target, unit.seed, unit.budget), 0.0)
            state["work"] += step
            bar.update(units, advance=step, description=label(), eta_s=eta(), eta_at=time.monotonic())

        yield progress, on_total, done


def run_planned(config: CompareConfig, console: Any, keep: contextlib.ExitStack, *, plots: bool,
                dry_run: bool) -> Path | None:
    """Print the plan, then (unless ``dry_run``, which returns None) run the study under the bar. The
    run directory's lock stays held in ``keep``, so the caller renders its tables under it."""
    from delbench.compare.runner import run_compare

    from delbench.compare.jobs import Detached

    plan = make_plan(config, plots=plots)
    show_plan(console, plan)
    if dry_run:
        dry_run_scripts(config, plan, console)
        return None
    try:
        with study_bar(console, plan, replanner(config, plan, plots=plots)) as (progress, total, done):
            return run_compare(config, progress=progress, on_total=total, done=done, keep=keep)
    except Detached as detached:
        console.print(f"submitted: {detached}", highlight=False, markup=False, soft_wrap=True)
        return None


def dry_run_scripts(config: CompareConfig, plan: Plan, console: Any) -> None:
    """Under ``--executor slurm --dry-run``: write the sbatch script of every unit, as it would be
    submitted, to ``RUN_DIR/jobs/dry-run/`` (the one thing a dry run writes)."""
    if config.executor.kind != "slurm":
        return
    from delbench.compare.executors import unit_name
    from delbench.compare.slurm import write_scripts
    from delbench.store.rundir import RunDir

    folder = RunDir(config.run_dir()).jobs_folder.resolve()  # jobs start wherever SLURM puts them
    out = RunDir(config.run_dir()).jobs_folder / "dry-run"
    names = [unit_name(u.selector, u.ratio, u.seed, u.budget) for u in plan.units]
    written = write_scripts(config.executor, config.protocol, names, out, config.cache_dir(), folder)
    console.print(f"sbatch scripts of the {len(written)} jobs: {out}", highlight=False, markup=False, soft_wrap=True)
