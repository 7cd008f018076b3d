"""Protocols: ``delbench/protocols/<name>.toml`` loaded into frozen dataclasses.

A protocol fixes everything that makes selectors comparable: data scale, embedder, ratios, the
pre-training objective and its equal-compute budget, the fine-tuning recipe, tasks, seeds and the
NormDEL alpha. Unknown keys and invalid values are errors naming the file and the key. ``version`` is
bumped whenever a change would change scores.
"""
from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from delbench.store.cache import config_hash
from delbench.errors import DelbenchError

# Package data, so an installed wheel has them too; the checkout's top-level `protocols` links here.
PROTOCOL_DIR = Path(__file__).resolve().parent / "protocols"
OBJECTIVES = ("inpaint", "mae", "contrastive")
ARCHS = ("unet", "smp_unet", "smp_fpn", "vit")
HEADS = {"unet": ("unet", "hypercolumn", "pyramid"), "smp_unet": ("unet",), "smp_fpn": ("unet",), "vit": ("mlp", "fpn")}
DEVICES = ("auto", "cpu", "cuda")
LOSSES = ("dice+bce", "dice", "bce", "balanced-bce")
EMBEDDERS = ("thumb", "pool", "phash", "ssl")  # and "timm:<model>"


@dataclass(frozen=True)
class DataConfig:
    source: str = "synth"  # "synth" (generated at `scale`) or "dir" (an existing root)
    scale: str = "ci"
    seed: int = 0


@dataclass(frozen=True)
class EmbedConfig:
    embedder: str = "thumb"  # "thumb", "pool", "phash", "ssl" or "timm:<model name>"
    weights: str = ""  # local weights file for timm embedders; "" = timm's cache
    # 0 = the embedder's own (timm: the model's data config; thumb: 64; ssl, phash: 32; pool: the network's)
    image_size: int = 0
    batch_size: int = 0  # 0 = a memory-safe batch for the image size; never changes the embeddings
    allow_partial: bool = False  # timm: embed even when [embed] weights fill only part of the model
    ssl_steps: int = 0  # ssl: optimiser steps of its training on the pool; 0 = the embedder's own (300)
    ssl_width: int = 0  # ssl: base width of its conv encoder (vectors of 15 x width); 0 = its own (8)


@dataclass(frozen=True)
class SelectConfig:
    ratios: tuple[float, ...] = (0.05, 0.1, 0.2, 0.33, 0.5, 1.0)


@dataclass(frozen=True)
class Network:
    """The segmentation network's shape: what a checkpoint must match to load, and what every stage
    that builds the network keys its cache on (the pre-training recipe is the checkpoint's concern)."""

    arch: str
    encoder: str
    width: int
    patch: int
    image_size: int


@dataclass(frozen=True)
class PretrainConfig:
    objective: str = "inpaint"
    arch: str = "unet"
    encoder: str = ""  # smp encoder name or timm ViT name; unused for "unet"
    width: int = 16  # base width of the conv UNet
    patch: int = 0  # ViT patch size; 0 = the timm model's own
    image_size: int = 64
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.0
    epochs_at_full: float = 10.0
    # A cap on every run's optimiser steps (0: none), so a preset's cost stops growing with the pool;
    # it applies to the step count of the whole pool, so every ratio still gets the same steps.
    max_steps: int = 0
    mask_ratio: float = 0.6
    mask_patch: int = 8
    decoder_dim: int = 128
    decoder_depth: int = 2
    checkpoint_every: int = 100
    intermediate: tuple[float, ...] = ()  # fractions of the run whose weights are kept (Table 4)
    device: str = "auto"

    def network(self) -> Network:
        """The network these settings describe (the file keeps them in ``[pretrain]``)."""
        return Network(**{f.name: getattr(self, f.name) for f in fields(Network)})


@dataclass(frozen=True)
class FinetuneConfig:
    head: str = "unet"
    mode: str = "full"  # "full", "frozen" (encoder fixed) or "probe" (only the output head trained)
    labels: int = 0  # labelled training images used per task; 0 = the whole train split
    steps: int = 300
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_frac: float = 0.1
    eval_every: int = 60
    loss: str = "dice+bce"
    # probe only: standardise each frozen feature channel by its mean and spread over the labelled
    # training images before the linear head, so the read-out does not depend on the features' scale
    standardize: bool = False
    # head "pyramid" only: the encoder levels it reads (0 = finest); empty = every level
    probe_levels: tuple[int, ...] = ()


@dataclass(frozen=True)
class TasksConfig:
    names: tuple[str, ...] = ()  # empty = every task in the manifest
    # left out of "every task" where present: tasks this protocol cannot resolve (e.g. polyps of a few
    # pixels at its image size), which would only add a constant row; --tasks still picks them
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreConfig:
    alpha: float = 1.0


@dataclass(frozen=True)
class ResourcesConfig:
    """What one unit asks a cluster for (``--executor slurm``). Where a unit runs never changes its
    scores, so this section is left out of the protocol's hash: a study may move between clusters."""

    gpus_per_unit: int = 1  # > 1: the unit's pre-training is one DDP run over that many GPUs
    cpus_per_unit: int = 8  # per GPU task
    mem_gb: int = 64
    timeout_min: int = 24 * 60  # a job stopped at its time limit is requeued and resumes from its checkpoint


@dataclass(frozen=True)
class Protocol:
    name: str
    version: int
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    seeds: tuple[int, ...] = (0, 1, 2)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)  # not part of the hash
    source: str = ""  # the file it came from; not part of the hash

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("source")
        return out

    def hash(self) -> str:
        """What identifies its scores: every section but ``resources`` (and the file it came from)."""
        scored = self.to_dict()
        scored.pop("resources")
        # keys added after hashes were published count only when set, so earlier protocols keep theirs
        for section, key, unset in LATE_KEYS:
            if scored[section][key] == unset:
                del scored[section][key]
        return config_hash(scored)

    def network(self) -> Network:
        """The segmentation network every stage builds: pre-training, embedding and fine-tuning."""
        return self.pretrain.network()

    def pretrain_steps(self, n_pool: int) -> int:
        """Equal compute: the same optimiser step count for every ratio, ``epochs_at_full`` passes over
        the whole pool, at most ``max_steps``."""
        steps = self.uncapped_steps(n_pool)
        return min(steps, self.pretrain.max_steps) if self.pretrain.max_steps else steps

    def budget_steps(self, n_pool: int, budget: float = 1.0) -> int:
        """The steps of a run at ``budget``, a fraction of ``pretrain_steps`` (``--budgets``): rounded,
        at least 1. Budget 1 is the protocol's own run."""
        steps = self.pretrain_steps(n_pool)
        return steps if budget == 1.0 else max(1, int(round(budget * steps)))

    def uncapped_steps(self, n_pool: int) -> int:
        """The steps of ``epochs_at_full`` passes over the whole pool, before any cap."""
        return max(1, math.ceil(self.pretrain.epochs_at_full * n_pool / self.pretrain.batch_size))

    def cap_binds(self, n_pool: int) -> bool:
        """Whether ``max_steps`` shortens the pre-training on a pool of ``n_pool`` frames."""
        return self.pretrain_steps(n_pool) < self.uncapped_steps(n_pool)

    def with_overrides(self, overrides: dict[str, Any]) -> "Protocol":
        """A copy with ``{"section.key": value}`` replaced, validated like a file."""
        raw = self.to_dict()
        for dotted, value in overrides.items():
            section, _, key = dotted.rpartition(".")
            target = raw[section] if section else raw
            if section and section not in raw or not isinstance(target, dict) or key not in target:
                raise DelbenchError(f"override {dotted!r}: no such protocol key")
            target[key] = value
        changed = from_dict(raw, where=f"{self.source or self.name} (with overrides)")
        return dataclasses.replace(changed, source=self.source)  # still the file it came from

    def cli_name(self) -> str:
        """How ``--protocol`` names it: a built-in by name, any other by its file."""
        source = Path(self.source) if self.source else None
        if source is None or source.parent == PROTOCOL_DIR:
            return self.name
        return str(source)


LATE_KEYS: tuple[tuple[str, str, Any], ...] = (
    ("embed", "allow_partial", False), ("finetune", "standardize", False), ("finetune", "probe_levels", ()),
    ("embed", "ssl_steps", 0), ("embed", "ssl_width", 0),
)

_SECTIONS: dict[str, type] = {
    "data": DataConfig, "embed": EmbedConfig, "select": SelectConfig, "pretrain": PretrainConfig,
    "finetune": FinetuneConfig, "tasks": TasksConfig, "score": ScoreConfig, "resources": ResourcesConfig,
}


def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple))
        if ok and default:
            value = tuple(_coerce(v, default[0], where) for v in value)
        elif ok:
            value = tuple(value)
    else:
        ok = True
    if not ok:
        raise DelbenchError(f"{where}: expected {type(default).__name__}, got {value!r}")
    return value


def _section(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise DelbenchError(f"{where}: expected a table")
    defaults = cls()
    known = {f.name for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise DelbenchError(f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})")
    kwargs = {k: _coerce(v, getattr(defaults, k), f"{where}.{k}") for k, v in raw.items()}
    return cls(**kwargs)


def from_dict(raw: dict[str, Any], where: str = "protocol") -> Protocol:
    raw = dict(raw)
    for key in ("name", "version"):
        if key not in raw:
            raise DelbenchError(f"{where}: missing required key {key!r}")
    known = {f.name for f in fields(Protocol)} - {"source"}
    if "budget" in raw:
        raise DelbenchError(f"{where}: 'budget' is no longer a protocol key: the budget is computed from the protocol "
                            "and the pool (`delbench protocols`); remove it, or cap the pre-training with [pretrain] max_steps")
    for key in raw:
        if key not in known:
            raise DelbenchError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
    kwargs: dict[str, Any] = {"source": where}
    for key, value in raw.items():
        if key in _SECTIONS:
            kwargs[key] = _section(_SECTIONS[key], value, f"{where}: [{key}]")
        elif key == "seeds":
            kwargs[key] = _coerce(value, (0,), f"{where}: seeds")
        elif key == "version":
            kwargs[key] = _coerce(value, 0, f"{where}: version")
        else:
            kwargs[key] = _coerce(value, "", f"{where}: {key}")
    proto = Protocol(**kwargs)
    validate(proto, where)
    return proto


def _need(cond: bool, where: str, key: str, what: str) -> None:
    if not cond:
        raise DelbenchError(f"{where}: {key} {what}")


def validate(p: Protocol, where: str) -> None:
    pt, ft = p.pretrain, p.finetune
    _need(p.version >= 1, where, "version", "must be an integer >= 1")
    _need(pt.objective in OBJECTIVES, where, "[pretrain] objective", f"must be one of {OBJECTIVES}")
    _need(pt.arch in ARCHS, where, "[pretrain] arch", f"must be one of {ARCHS}")
    _need(pt.objective != "mae" or pt.arch == "vit", where, "[pretrain] objective", "'mae' needs arch = 'vit'")
    _need(pt.objective != "contrastive" or pt.arch == "unet", where, "[pretrain] objective", "'contrastive' needs arch = 'unet'")
    _need(pt.arch not in ("vit", "smp_unet", "smp_fpn") or bool(pt.encoder), where, "[pretrain] encoder",
          f"must name a model for arch {pt.arch!r}")
    for key in ("image_size", "batch_size", "width", "checkpoint_every", "mask_patch", "decoder_dim"):
        _need(getattr(pt, key) > 0, where, f"[pretrain] {key}", "must be > 0")
    _need(pt.max_steps >= 0, where, "[pretrain] max_steps", "must be >= 0 (0 = no cap)")
    _need(pt.image_size % pt.mask_patch == 0, where, "[pretrain] mask_patch", "must divide image_size")
    _need(pt.lr > 0 and pt.epochs_at_full > 0, where, "[pretrain] lr/epochs_at_full", "must be > 0")
    _need(0 < pt.mask_ratio < 1, where, "[pretrain] mask_ratio", "must lie in (0, 1)")
    _need(0 <= pt.warmup_frac < 1, where, "[pretrain] warmup_frac", "must lie in [0, 1)")
    _need(0 <= pt.min_lr_frac <= 1, where, "[pretrain] min_lr_frac", "must lie in [0, 1]")
    _need(all(0 < f <= 1 for f in pt.intermediate), where, "[pretrain] intermediate", "fractions must lie in (0, 1]")
    _need(pt.device in DEVICES, where, "[pretrain] device", f"must be one of {DEVICES}")
    _need(ft.head in HEADS[pt.arch], where, "[finetune] head", f"must be one of {HEADS[pt.arch]} for arch {pt.arch!r}")
    _need(ft.mode in ("full", "frozen", "probe"), where, "[finetune] mode", "must be 'full', 'frozen' or 'probe'")
    _need(ft.loss in LOSSES, where, "[finetune] loss", f"must be one of {LOSSES}")
    _need(not ft.probe_levels or (pt.arch == "unet" and ft.head == "pyramid" and len(set(ft.probe_levels)) == len(ft.probe_levels)
                                  and all(0 <= i < 4 for i in ft.probe_levels)), where, "[finetune] probe_levels",
          "applies to head = 'pyramid' of arch 'unet' and names distinct encoder levels 0-3")
    _need(not ft.standardize or (pt.arch == "unet" and ft.mode == "probe"), where, "[finetune] standardize",
          "applies to the linear probe of a conv UNet only: set mode = 'probe' and arch = 'unet', or remove it")
    for key in ("steps", "batch_size", "eval_every"):
        _need(getattr(ft, key) > 0, where, f"[finetune] {key}", "must be > 0")
    _need(ft.labels >= 0, where, "[finetune] labels", "must be >= 0 (0 = all)")
    _need(len(p.select.ratios) > 0 and all(0 < r <= 1 for r in p.select.ratios), where, "[select] ratios",
          "must be a non-empty list in (0, 1]")
    _need(len(p.seeds) > 0, where, "seeds", "must be a non-empty list")
    _need(p.score.alpha > 0, where, "[score] alpha", "must be > 0")
    for key in ("gpus_per_unit", "cpus_per_unit", "mem_gb", "timeout_min"):
        _need(getattr(p.resources, key) > 0, where, f"[resources] {key}", "must be > 0")
    _need(p.embed.image_size >= 0, where, "[embed] image_size", "must be >= 0 (0 = the embedder's own)")
    _need(p.embed.batch_size >= 0, where, "[embed] batch_size", "must be >= 0 (0 = a memory-safe default)")
    emb = p.embed.embedder
    _need(emb in EMBEDDERS or emb.startswith("timm:"), where, "[embed] embedder",
          "must be 'thumb', 'pool', 'phash', 'ssl' or 'timm:<model>'")
    _need(emb != "phash" or p.embed.image_size in (0, 32), where, "[embed] image_size",
          "must be 0 or 32 for embedder 'phash' (the hash is taken from 32 px images)")
    for key in ("ssl_steps", "ssl_width"):
        value = getattr(p.embed, key)
        _need(value >= 0, where, f"[embed] {key}", "must be >= 0 (0 = the ssl embedder's own)")
        _need(value == 0 or emb == "ssl", where, f"[embed] {key}", "applies to embedder 'ssl' only: remove it or set embedder = 'ssl'")


def list_protocols() -> list[str]:
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.toml"))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """A protocol by name (``protocols/<name>.toml``) or by path to a TOML file."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.is_file()):
        path = PROTOCOL_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise DelbenchError(
                f"unknown protocol {str(name_or_path)!r}: available: {', '.join(list_protocols())} (or a .toml path)"
            )
    if not path.is_file():
        raise DelbenchError(f"protocol file {path} not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise DelbenchError(f"{path}: not valid TOML ({exc})") from None
    return from_dict(raw, where=str(path))
