"""Selector pipelines: ``quality>meddel`` screens the pool with ``quality``, then lets ``meddel`` choose
from the survivors.

Each stage but the last is a *screen*: it removes what it finds bad on its own evidence, whatever the
budget (a selector offers this by defining ``screen(request) -> Selection``, the items it keeps). The
last stage meets the budget, round(R*N) of the whole pool, from what the screens left. When a screen
would leave fewer than round(R*N) items, that stage meets the budget itself with its ``select`` (its
own ranking) and the stages after it have nothing left to remove; ``info["budget_met_by"]`` names
the stage that met it.

A screen may score every item it saw (``Selection.badness``, higher worse). The later stages get the
survivors' scores as ``request.badness`` (the worst over the screens so far), so a deduplicating stage
can keep the better of two near-duplicates: ``meddel`` and ``dedup-only`` do.

Removal reasons are kept per stage, each under the stage's name: ``quality:blur`` (from the screen),
``meddel:duplicate`` (from the last stage). A stage's parameters are given as ``STAGE.KEY``:
``--param "quality>meddel.meddel.epsilon_quantile=0.05"``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from delbench.errors import DelbenchError
from delbench.plugin.registry import Entry
from delbench.progress import scaled
from delbench.select.contract import Selection, SelectionRequest, SelectsMany, check_ratio, run_selector, target_count

SEP = ">"


def is_pipeline(name: str) -> bool:
    return SEP in name


def stage_names(name: str) -> list[str]:
    """``"quality>meddel"`` -> ``["quality", "meddel"]``; a malformed name is one line."""
    parts = [p.strip() for p in name.split(SEP)]
    if len(parts) < 2 or not all(parts):
        raise DelbenchError(f"selector pipeline {name!r}: write it as STAGE>STAGE (e.g. quality>meddel), "
                            "every stage a registered selector")
    if len(set(parts)) != len(parts):
        raise DelbenchError(f"selector pipeline {name!r} names a stage twice; each stage may appear once")
    return parts


def sub_request(request: SelectionRequest, alive: np.ndarray, progress: Any = None,
                badness: np.ndarray | None = None) -> SelectionRequest:
    """The request restricted to pool items ``alive``: their embeddings, pool rows and images, in order;
    ``badness`` (aligned with ``alive``) is what the screens so far made of them."""
    emb = np.ascontiguousarray(request.embeddings[alive])
    emb.flags.writeable = False
    if badness is not None:
        badness = np.array(badness, dtype=np.float64)
        badness.flags.writeable = False
    pool = request.pool.iloc[alive].reset_index(drop=True) if request.pool is not None else None
    loader = None
    if request.load_images is not None:
        base = request.load_images

        def loader(indices: Iterable[int]) -> Any:
            return base([int(alive[int(i)]) for i in indices])

    return replace(request, embeddings=emb, pool=pool, load_images=loader, badness=badness,
                   progress=progress if progress is not None else request.progress)


def _tagged(stage: str, reasons: Mapping[str, np.ndarray], alive: np.ndarray, removed: np.ndarray) -> dict[str, np.ndarray]:
    """A stage's removals as pool indices under ``stage:reason``; removals it gave no reason for go
    under ``stage``."""
    out: dict[str, np.ndarray] = {}
    explained = np.zeros(0, dtype=np.int64)
    for reason, local in reasons.items():
        local = np.asarray(local, dtype=np.int64)
        key = reason if reason.startswith(f"{stage}:") else f"{stage}:{reason}"
        out[key] = np.sort(alive[local])
        explained = np.concatenate([explained, local])
    rest = np.setdiff1d(removed, explained)
    if rest.size:
        out[stage] = np.sort(alive[rest])
    return out


@dataclass
class _Screened:
    alive: np.ndarray  # pool indices left after this many screens
    reasons: dict[str, np.ndarray]
    info: dict[str, Any]
    badness: np.ndarray | None = None  # aligned with alive: the worst any screen so far found


class Pipeline(SelectsMany):
    """Stages of selectors: every stage but the last screens, the last meets the budget."""

    def __init__(self, name: str, stages: list[tuple[str, Any]]) -> None:
        self.name = name
        self.stages = stages
        for stage, selector in stages[:-1]:
            if not callable(getattr(selector, "screen", None)):
                raise DelbenchError(f"selector pipeline {name!r}: stage {stage!r} cannot screen (it has no "
                                    "screen method), so it can only be the last stage")

    def select_many(self, request: SelectionRequest, ratios: Iterable[float]) -> dict[float, Selection]:
        ratios = [check_ratio(r) for r in ratios]
        n, parts = request.n, len(self.stages)
        chain = [_Screened(np.arange(n), {}, {})]
        for i, (stage, selector) in enumerate(self.stages[:-1]):
            prev = chain[-1]
            sub = sub_request(request, prev.alive, scaled(request.progress, i / parts, (i + 1) / parts), prev.badness)
            kept, why, bad = _screen(stage, selector, sub)
            removed = np.setdiff1d(np.arange(len(prev.alive)), kept)
            reasons = {**prev.reasons, **_tagged(stage, why, prev.alive, removed)}
            worst = [b[kept] for b in (prev.badness, bad) if b is not None]
            chain.append(_Screened(prev.alive[kept], reasons, {**prev.info, stage: {"screened_out": int(removed.size)}},
                                   np.maximum.reduce(worst) if worst else None))
        out: dict[float, Selection] = {}
        last_stage, last = self.stages[-1]
        final = [r for r in ratios if len(chain[-1].alive) >= target_count(r, n)]
        if final:
            alive = chain[-1].alive
            sub = sub_request(request, alive, scaled(request.progress, (parts - 1) / parts, 1.0), chain[-1].badness)
            local = {r: target_count(r, n) / len(alive) for r in final}
            answers = run_selector(last, sub, ratios=sorted(set(local.values())))
            for r in final:
                out[r] = self._answer(chain[-1], last_stage, answers[local[r]], alive)
        for r in ratios:
            if r in out:
                continue
            count = target_count(r, n)
            # the deepest screen that still leaves enough; the stage after it meets the budget itself
            k = max(i for i, c in enumerate(chain) if len(c.alive) >= count)
            stage, selector = self.stages[k]
            alive = chain[k].alive
            sub = sub_request(request, alive, badness=chain[k].badness)
            answer = run_selector(selector, sub, ratios=[count / len(alive)])[count / len(alive)]
            out[r] = self._answer(chain[k], stage, answer, alive)
        return out

    def _answer(self, screened: _Screened, stage: str, answer: Selection, alive: np.ndarray) -> Selection:
        """``stage``'s answer on ``alive`` as the pipeline's: ``stage`` is the one that met the budget."""
        removed = np.setdiff1d(np.arange(len(alive)), answer.indices)
        reasons = {**screened.reasons, **_tagged(stage, answer.reasons, alive, removed)}
        info = {"stages": [s for s, _ in self.stages], "budget_met_by": stage, **screened.info, stage: dict(answer.info)}
        # a stage's warnings are the pipeline's, so select and compare print them; a ratio in them is
        # the stage's own share of what the screens left, so the prefix says which share that is
        where = f"{stage} stage, keeping {len(answer.indices)} of the {len(alive)} items left to it"
        warnings = [f"{where}: {w}" for w in answer.info.get("warnings", [])]
        if warnings:
            info["warnings"] = warnings
        return Selection(indices=alive[answer.indices], reasons=reasons, info=info)


def _screen(stage: str, selector: Any,
            request: SelectionRequest) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
    """What a screen keeps (sorted local indices), its reasons for the rest and its badness, checked."""
    answer = selector.screen(request)
    if not isinstance(answer, Selection):
        raise DelbenchError(f"selector {stage!r}: screen returned {type(answer).__name__}, expected a Selection")
    idx = np.unique(np.asarray(answer.indices, dtype=np.int64))
    if idx.size and (idx[0] < 0 or idx[-1] >= request.n):
        raise DelbenchError(f"selector {stage!r}: screen kept index {int(idx[0] if idx[0] < 0 else idx[-1])}, "
                            f"outside [0, {request.n})")
    bad = answer.badness
    if bad is not None:
        bad = np.asarray(bad, dtype=np.float64)
        if bad.shape != (request.n,):
            raise DelbenchError(f"selector {stage!r}: screen gave badness of shape {bad.shape}, expected one value "
                                f"for each of the {request.n} items it screened")
        if not np.isfinite(bad).all():
            raise DelbenchError(f"selector {stage!r}: screen gave a non-finite badness for item "
                                f"{int(np.flatnonzero(~np.isfinite(bad))[0])}; give every item a finite score")
    return idx, {k: np.asarray(v, dtype=np.int64) for k, v in (answer.reasons or {}).items()}, bad


@dataclass(frozen=True)
class PipelineEntry(Entry):
    """A registry entry for ``A>B>…``: its parameters are its stages' as ``STAGE.KEY``, its
    implementation theirs (so editing any stage's source invalidates cached subsets of the pipeline)."""

    stages: tuple[Entry, ...] = ()

    def params(self) -> dict[str, Any]:
        return {f"{e.name}.{k}": v for e in self.stages for k, v in e.params().items()}

    def implementation(self) -> dict[str, Any]:  # type: ignore[override]
        return {"pipeline": [e.implementation() for e in self.stages]}

    def _split(self, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {e.name: {} for e in self.stages}
        for key, value in params.items():
            stage, dot, name = key.partition(".")
            if not dot or stage not in out:
                raise DelbenchError(f"selector {self.name!r} has no parameter {key!r}; name a stage's parameter as "
                                    f"STAGE.KEY with STAGE one of {', '.join(out)}")
            out[stage][name] = value
        return out

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        split = self._split(params)
        return {f"{e.name}.{k}": v for e in self.stages for k, v in e.check_params(split[e.name]).items()}

    def create(self, **params: Any) -> Any:
        split = self._split(params)
        return Pipeline(self.name, [(e.name, e.create(**split[e.name])) for e in self.stages])


def pipeline_entry(name: str, lookup: Callable[[str], Entry]) -> PipelineEntry:
    """The entry of pipeline ``name``, each stage looked up by ``lookup`` (unknown names fail there)."""
    from delbench import __version__

    stages = tuple(lookup(s) for s in stage_names(name))
    return PipelineEntry(kind="selector", name=name, factory=Pipeline,
                         description=f"pipeline: {' then '.join(e.name for e in stages)}",
                         plugin="delbench", package="delbench", version=__version__, stages=stages)
