"""What a compare run will do: the configuration and the units of work it expands to."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delbench.data.manifest import MANIFEST_NAME
from delbench.compare.executors import ExecutorOptions
from delbench.errors import DelbenchError
from delbench.protocol import Protocol, load_protocol
from delbench.store.cachedir import default_cache


BUDGETS = (1.0,)  # the protocol's own pre-training only
MAX_BUDGET = 4.0  # past this a "budget curve" is a different protocol, better written as one


def default_jobs(jobs: int | None) -> int:
    """One worker per CPU (each runs single-threaded, so results do not depend on it), at most 4."""
    if jobs is not None:
        if jobs < 1:
            raise DelbenchError(f"--jobs {jobs}: give a number of worker processes >= 1")
        return jobs
    return max(1, min(4, os.cpu_count() or 1))


def default_protocol() -> Protocol:
    return load_protocol("smoke")


@dataclass(frozen=True)
class CompareConfig:
    """A study as asked for. ``protocol`` is the loaded protocol with every ``--set`` applied (what the
    hash, the stages and run.json see); ``overrides`` only records which keys were set."""

    selectors: tuple[str, ...]
    protocol: Protocol = field(default_factory=default_protocol)
    out: Path | None = None
    data: Path | None = None
    ratios: tuple[float, ...] | None = None
    seeds: tuple[int, ...] | None = None
    tasks: tuple[str, ...] | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache: Path | None = None
    jobs: int = 1
    cross: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)  # --set section.key=value, for the record
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)  # where the units run
    # fractions of the protocol's pre-training steps, each its own runs (--budgets); scratch runs once
    budgets: tuple[float, ...] = BUDGETS

    def run_dir(self) -> Path:
        return self.out or Path("runs") / f"{self.protocol.name}-{'-'.join(self.selectors)}"

    def cache_dir(self) -> Path:
        return self.cache or default_cache()


@dataclass(frozen=True)
class Checked:
    """A configuration whose every option was checked before any work: what the run will use."""

    protocol: Protocol
    entries: dict[str, Any]  # selector name -> its registry Entry, resolved once here
    ratios: tuple[float, ...]
    seeds: tuple[int, ...]
    tasks: tuple[str, ...] | None  # None: the protocol's tasks, or every task of the data
    params: dict[str, dict[str, Any]]  # as given, converted to the selectors' parameter types
    filled: dict[str, dict[str, Any]]  # with every default filled in, for run.json
    budgets: tuple[float, ...] = BUDGETS  # ascending


def check_config(config: CompareConfig) -> Checked:
    """Check selectors, parameters, protocol, ratios, seeds and tasks; fail with one line before any
    data is generated, embedded or trained (so a typo costs nothing and leaves no run directory)."""
    from delbench.plugin.manager import get_plugins

    registry = get_plugins().selectors
    entries = {sel: registry.get(sel) for sel in config.selectors}  # an unknown name fails here
    unknown = sorted(set(config.params) - set(config.selectors))
    if unknown:
        raise DelbenchError(f"--param {unknown[0]}.*: selector {unknown[0]!r} is not part of this run "
                            f"({', '.join(config.selectors)})")
    params = {sel: entries[sel].check_params(config.params.get(sel, {})) for sel in config.selectors}
    for sel, entry in entries.items():
        entry.create(**params[sel])  # the selector's own checks of its values; creating one is cheap
    protocol = config.protocol
    ratios = tuple(config.ratios or protocol.select.ratios)
    bad = [r for r in ratios if not 0 < r <= 1]
    if bad:
        raise DelbenchError(f"--ratios: {bad[0]:g} is not in (0, 1]")
    seeds = tuple(config.seeds or protocol.seeds)
    if not seeds:
        raise DelbenchError("--seeds: give at least one seed")
    budgets = check_budgets(tuple(config.budgets), ",".join(f"{b:g}" for b in config.budgets))
    present, where = available_tasks(config)
    if config.tasks:
        missing = [t for t in config.tasks if t not in present]
        if missing:
            raise DelbenchError(f"--tasks: task {missing[0]!r} is not in {where} (available: {', '.join(present)})")
    else:
        missing = [t for t in protocol.tasks.names if t not in present]
        if missing:
            raise DelbenchError(f"{protocol.source or protocol.name}: [tasks] names lists {missing[0]!r}, not in {where} "
                                f"(available: {', '.join(present)}); pick tasks with --tasks")
    return Checked(protocol, entries, ratios, seeds, tuple(config.tasks) if config.tasks else None, params,
                   {sel: {**entries[sel].params(), **params[sel]} for sel in config.selectors}, budgets)


def check_run_dir(config: CompareConfig, checked: Checked) -> None:
    """The run directory's refusals that need no work and write nothing: a live writer holds it, or it
    holds another study (protocol, selector parameters, or data already on disk)."""
    from delbench.store import rundir

    run_dir = config.run_dir()
    rundir.check_free(run_dir)
    previous = rundir.previous_study(run_dir)
    rundir.check_protocol(run_dir, previous, checked.protocol)
    rundir.check_params(run_dir, previous, checked.filled)
    if previous is not None and config.data is not None:
        from delbench.store.atomic import sha256_file

        rundir.check_data(run_dir, previous, Path(config.data), sha256_file(Path(config.data) / MANIFEST_NAME))


def available_tasks(config: CompareConfig) -> tuple[list[str], str]:
    """The task names the run's data holds and where they come from, without generating anything:
    ``--data``'s manifest, or the fixed task list of the synthetic DataDEL."""
    if config.data is None:
        from delbench.data.synth.tasks import TASKS

        return sorted(t.name for t in TASKS), "the synthetic DataDEL"
    manifest = Path(config.data) / MANIFEST_NAME
    if not manifest.is_file():
        raise DelbenchError(f"--data {config.data}: no {MANIFEST_NAME} there; create it with `delbench data import`")
    from delbench.data.manifest import read_manifest
    from delbench.evaluate.stage import all_tasks

    return all_tasks(read_manifest(manifest)), str(manifest)


@dataclass(frozen=True)
class Unit:
    """One pre-train + evaluate job: a subset (None = no pre-training) under one seed."""

    selector: str
    ratio_target: float
    ratio_achieved: float
    seed: int
    subset: Path | None  # subset.npy, or None for the whole pool (full) or no pre-training (scratch)
    pretrain: bool
    select_seconds: float
    kept_bytes: int
    budget: float = 1.0  # the share of the protocol's pre-training steps it runs (scratch: always 1)


def split_params(items: dict[str, Any], selectors: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``{"meddel.k": 50}`` -> ``{"meddel": {"k": 50}}``; a parameter for a selector not in the run is an error."""
    out: dict[str, dict[str, Any]] = {s: {} for s in selectors}
    for key, value in items.items():
        sel, dot, name = key.partition(".")
        if not dot or not name:
            raise DelbenchError(f"--param {key}={value!r}: write it as SELECTOR.KEY=VALUE (e.g. meddel.k=100)")
        if sel not in out:
            raise DelbenchError(f"--param {key}: selector {sel!r} is not part of this run ({', '.join(selectors)})")
        out[sel][name] = value
    return out


def parse_ratios(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DelbenchError(f"--ratios {text!r}: give comma-separated fractions, e.g. 0.05,0.2,0.5") from None
    bad = [v for v in values if not 0 < v <= 1]
    if bad:
        raise DelbenchError(f"--ratios: {bad[0]:g} is not in (0, 1]")
    return values


def parse_seeds(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DelbenchError(f"--seeds {text!r}: give comma-separated integers, e.g. 0,1,2") from None


def parse_budgets(text: str | None) -> tuple[float, ...] | None:
    """``--budgets 0.25,0.5,1``: fractions of the protocol's pre-training steps, ascending; None when
    the option is not given (the protocol's own steps only)."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DelbenchError(f"--budgets {text!r}: give comma-separated fractions of the protocol's pre-training "
                            "steps, e.g. --budgets 0.25,0.5,1") from None
    return check_budgets(values, text)


def check_budgets(values: tuple[float, ...], text: str) -> tuple[float, ...]:
    """The budgets, ascending, or one line naming ``--budgets`` and what to give instead."""
    if not values:
        raise DelbenchError(f"--budgets {text!r}: give at least one fraction of the protocol's pre-training steps, "
                            "e.g. --budgets 0.25,0.5,1")
    bad = [v for v in values if not (math.isfinite(v) and 0 < v <= MAX_BUDGET)]
    if bad:
        raise DelbenchError(f"--budgets: {bad[0]:g} is not in (0, {MAX_BUDGET:g}]; each budget is a fraction of the "
                            "protocol's pre-training steps, e.g. --budgets 0.25,0.5,1")
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise DelbenchError(f"--budgets {text}: {twice[0]:g} is listed twice; list each budget once")
    return tuple(sorted(values))
