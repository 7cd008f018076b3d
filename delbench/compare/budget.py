"""A protocol's budget, computed from the protocol and a pool rather than written by hand.

The budget of one unit (one selector, ratio and seed) is its pre-training steps, the same for every
ratio, and its downstream steps per task. With ``[pretrain] max_steps`` the pre-training is bounded
on any pool; without it, it grows with the pool. Given rates measured on this machine
(``delbench.compare.calibrate``), the budget is also stated in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

from delbench.compare.calibrate import Rates
from delbench.compare.cost import TaskSize, duration, evaluation_seconds
from delbench.protocol import Protocol


@dataclass(frozen=True)
class Budget:
    protocol: Protocol
    pool: str  # what the pool is, in words
    pool_frames: int
    tasks: tuple[TaskSize, ...]

    @property
    def steps(self) -> int:
        """Pre-training steps per unit on this pool, for every ratio."""
        return self.protocol.pretrain_steps(self.pool_frames)

    @property
    def bound(self) -> int | None:
        """The most pre-training steps a unit takes on any pool (None: no bound)."""
        return self.protocol.pretrain.max_steps or None

    def unit_seconds(self, rates: Rates) -> float:
        """One unit's pre-training and evaluation on this machine, in one process."""
        work = self.steps * rates.pretrain_step + sum(evaluation_seconds(self.protocol, t, rates) for t in self.tasks)
        return work * rates.slowdown(1)

    def lines(self, rates: Rates | None = None) -> list[str]:
        p, ft = self.protocol, self.protocol.finetune
        epochs = f"{p.pretrain.epochs_at_full:g} epochs at 100%"
        if self.bound:
            limit = f"at most {self.bound:,} on any pool"
        else:
            limit = f"no cap: {p.pretrain.epochs_at_full * 1000 / p.pretrain.batch_size:,.0f} more per 1,000 frames"
        capped = ", capped" if p.cap_binds(self.pool_frames) else ""
        tasks = f"{len(self.tasks)} task" + ("" if len(self.tasks) == 1 else "s")
        out = [f"budget on {self.pool} ({self.pool_frames:,} frames, {tasks}): "
               f"{self.steps:,} pre-training steps per unit ({epochs}{capped}; {limit}); "
               f"{len(self.tasks)} x {ft.steps} {ft.mode} steps"]
        if rates is not None:
            out.append(f"≈ {duration(self.unit_seconds(rates))} per (selector, ratio, seed) on this machine, in one process "
                       f"({1 / rates.pretrain_step:,.1f} pre-training steps per CPU second measured)")
        return out


def synthetic_budget(protocol: Protocol) -> Budget:
    """The budget on the protocol's own synthetic DataDEL, from its scale (nothing generated)."""
    from delbench.compare.cost import synthetic_sizes
    from delbench.data.synth.tasks import TASKS

    names = list(protocol.tasks.names) or [t.name for t in TASKS if t.name not in protocol.tasks.exclude]
    frames, tasks, _ = synthetic_sizes(protocol, names)
    return Budget(protocol, f"the synthetic {protocol.data.scale} pool", frames, tasks)


def root_budget(protocol: Protocol, root: object) -> Budget:
    """The budget on the dataset root ``root`` (its pool and the tasks the protocol evaluates there)."""
    from pathlib import Path

    from delbench.compare.cost import task_sizes_of
    from delbench.data.manifest import pool_rows, read_manifest
    from delbench.evaluate.stage import resolve_tasks

    root = Path(str(root))
    frame = read_manifest(root, check_paths=False)
    names = resolve_tasks(frame, protocol, None, root)
    return Budget(protocol, str(root), len(pool_rows(frame)), task_sizes_of(frame, names, protocol.finetune.labels))
