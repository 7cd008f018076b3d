"""Command-line checks: bad options fail with one line before any work, outputs never overwrite inputs,
selector parameters are typed, every command shares one cache, and `compare` reports and records
what it did (stage reuse, filled-in parameters, `--set` overrides)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.errors import DelbenchError
from delbench.testing import make_embeddings, registered_selector

TINY = Path(__file__).parent / "protocols" / "tiny.toml"


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result: Any) -> str:
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    return lines[0]


@pytest.fixture
def emb(tmp_path: Path) -> Path:
    path = tmp_path / "emb.npy"
    np.save(path, make_embeddings(n=200, d=8))
    return path


# --- select: an output never overwrites an input -------------------------------------------------

def test_select_refuses_out_equal_to_embeddings(emb: Path, tmp_path: Path) -> None:
    before = emb.read_bytes()
    for out in (emb, tmp_path / "sub" / ".." / emb.name):
        (tmp_path / "sub").mkdir(exist_ok=True)
        line = one_line_error(run("select", "random", "--embeddings", emb, "--ratio", "0.5", "--out", out))
        assert "--embeddings" in line and "--out" in line
    assert emb.read_bytes() == before
    assert not (tmp_path / "emb.json").exists()


def test_select_refuses_sidecar_over_an_input(emb: Path, tmp_path: Path) -> None:
    # --out emb writes emb.json: the embeddings' own sidecar
    line = one_line_error(run("select", "random", "--embeddings", emb, "--ratio", "0.5", "--out", tmp_path / "emb"))
    assert "emb.json" in line
    assert not (tmp_path / "emb").exists()
    # the reasons file beside --out x.npy is x.reasons.parquet: here the pool manifest
    pool = tmp_path / "x.reasons.parquet"
    pool.write_bytes(b"not really parquet")
    line = one_line_error(run("select", "random", "--embeddings", emb, "--ratio", "0.5", "--pool", pool,
                              "--out", tmp_path / "x.npy"))
    assert "--pool" in line
    assert pool.read_bytes() == b"not really parquet"
    line = one_line_error(run("select", "random", "--embeddings", emb, "--ratio", "0.5", "--pool", pool, "--out", pool))
    assert "--pool" in line


# --- selector parameters: typed from the signature, range checks by the selector ------------------

@pytest.mark.parametrize("param,needle", [
    ("epsilon=abc", "epsilon='abc' must be a number"),
    ("k=abc", "k='abc' must be an integer"),
    ("k=2.5", "k=2.5 must be an integer"),
])
def test_select_param_of_wrong_type_is_one_line(emb: Path, tmp_path: Path, param: str, needle: str) -> None:
    line = one_line_error(run("select", "meddel", "--embeddings", emb, "--ratio", "0.2", "--param", param,
                              "--out", tmp_path / "s.npy"))
    assert "'meddel'" in line and needle in line
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.parametrize("name", ["meddel", "dedup-only"])
@pytest.mark.parametrize("k", ["201", "100000"])
def test_k_above_pool_size_is_refused(emb: Path, tmp_path: Path, name: str, k: str) -> None:
    line = one_line_error(run("select", name, "--embeddings", emb, "--ratio", "0.2", "--param", f"k={k}",
                              "--out", tmp_path / "s.npy"))
    assert f"{name}: k={k}" in line and "200" in line
    assert not (tmp_path / "s.npy").exists()


def test_select_records_coerced_and_default_params(emb: Path, tmp_path: Path) -> None:
    res = run("select", "meddel", "--embeddings", emb, "--ratio", "0.2", "--param", "epsilon=1",
              "--param", "k=1e1", "--out", tmp_path / "s.npy")
    assert res.exit_code == 0, res.output
    params = json.loads((tmp_path / "s.json").read_text())["params"]
    assert params == {"epsilon": 1.0, "k": 10, "niter": 20, "nredo": 1, "train_per_centroid": 64, "epsilon_quantile": 0.0}
    assert isinstance(params["epsilon"], float) and isinstance(params["k"], int)


class Typed:
    """A selector whose parameters cover the annotation kinds."""

    name = "typed-probe"

    def __init__(self, flag: bool = False, label: str = "a", scale: float | None = None, sizes: list[int] | None = None,
                 count: int = 1, anything=None) -> None:
        self.values = dict(flag=flag, label=label, scale=scale, sizes=sizes, count=count, anything=anything)

    def select(self, request):  # pragma: no cover - never run here
        raise NotImplementedError


def test_entry_coerces_by_annotation() -> None:
    with registered_selector(Typed) as entry:
        made = entry.create(flag=True, label=12, scale=2, sizes=[1, 2.0], count=3.0, anything="x")
        assert made.values == dict(flag=True, label="12", scale=2.0, sizes=[1, 2], count=3, anything="x")
        assert type(made.values["scale"]) is float and type(made.values["count"]) is int
        assert entry.create(scale=None).values["scale"] is None
        for bad, needle in [({"flag": 1}, "flag=1 must be true or false"), ({"count": 2.5}, "count=2.5 must be an integer"),
                            ({"count": True}, "count=True must be an integer"), ({"scale": "big"}, "scale='big' must be a number or null"),
                            ({"sizes": [1, "x"]}, "sizes=[1, 'x'] must be"), ({"label": [1]}, "label=[1] must be a string")]:
            with pytest.raises(DelbenchError, match="selector 'typed-probe': parameter ") as info:
                entry.create(**bad)
            assert needle in str(info.value) and "\n" not in str(info.value)
        assert entry.filled_params({"count": 2.0}) == {"flag": False, "label": "a", "scale": None, "sizes": None,
                                                       "count": 2, "anything": None}
        # a comma string is a list: `--param sizes=3,4` and `--param sizes=[3,4]` are one run, one cache key
        assert entry.check_params({"sizes": "3, 4"}) == entry.check_params({"sizes": [3, 4]}) == {"sizes": [3, 4]}
        assert entry.check_params({"label": "x,y"}) == {"label": "x,y"}  # a string parameter keeps its commas
        with pytest.raises(DelbenchError, match=r"sizes='3,x' must be a list or null"):
            entry.create(sizes="3,x")


def test_hkmeans_levels_written_either_way_are_one_cache_key() -> None:
    from delbench.compare.runner import select_key
    from delbench.plugin.manager import get_plugins
    from delbench.store.cache import config_hash

    entry = get_plugins().selectors.get("hkmeans")
    keys = {config_hash(select_key("hkmeans", {}, entry.filled_params({"k": k}), "emb", 0, (0.5,), "pool"))
            for k in ("30,4", "30, 4", [30, 4])}
    assert len(keys) == 1


# --- compare / validate: every option is checked before any work, and a failure leaves nothing ----

def compare_args(tmp_path: Path, *more: str) -> list[str]:
    return ["compare", "random", "--protocol", str(TINY), "--out", str(tmp_path / "run"),
            "--cache", str(tmp_path / "cache"), "--no-plots", *more]


def tiny_data(tmp_path: Path) -> Path:
    """A dataset root whose manifest lists two tasks (no images: the checks must not need any)."""
    from delbench.data.manifest import write_manifest

    root = tmp_path / "data"
    root.mkdir()
    write_manifest(root, pd.DataFrame({
        "id": ["p0", "t0", "t1"], "path": ["p0.png", "t0.png", "t1.png"], "role": ["pool", "task", "task"],
        "task": [None, "alpha", "beta"], "split": [None, "train", "test"], "mask_path": [None, "m0.png", "m1.png"],
        "width": [32] * 3, "height": [32] * 3,
    }))
    return root


@pytest.mark.parametrize("more,needle", [
    (["--tasks", "nosuch"], "--tasks: task 'nosuch'"),
    (["--tasks", "syn-kvasir,nosuch"], "available: syn-clinic, syn-etis, syn-kvasir, syn-polypgen"),
    (["--param", "random.stratify=1", "--param", "random.nope=2"], "has no parameter 'nope'"),
    (["--param", "random.stratify=sideways"], "stratify='sideways' not understood"),
    (["--set", "finetune.steps=abc"], "[finetune].steps"),
    (["--set", "pretrain.nope=1"], "pretrain.nope"),
    (["--seeds", "0,x"], "--seeds"),
    (["--ratios", "0.5,2"], "--ratios"),
    (["--data", "DATA", "--tasks", "gamma"], "available: alpha, beta"),
    (["--data", "MISSING"], "no manifest.parquet"),
])
def test_compare_bad_option_fails_at_once_and_leaves_nothing(tmp_path: Path, more: list[str], needle: str) -> None:
    more = [str(tiny_data(tmp_path)) if m == "DATA" else str(tmp_path / "missing") if m == "MISSING" else m for m in more]
    line = one_line_error(run(*compare_args(tmp_path, *more)))
    assert needle in line
    # "at once": refused before any work, which the empty cache shows (a wall-clock bound would be a timed test)
    assert not (tmp_path / "run").exists()
    assert not (tmp_path / "cache").exists()  # nothing generated, embedded or trained


def test_compare_type_error_in_param_names_selector(tmp_path: Path) -> None:
    line = one_line_error(run("compare", "meddel", "--protocol", TINY, "--out", tmp_path / "run",
                              "--cache", tmp_path / "cache", "--param", "meddel.k=2.5"))
    assert "'meddel'" in line and "k=2.5 must be an integer" in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


def test_compare_checks_protocol_tasks_against_the_data(tmp_path: Path) -> None:
    proto = tmp_path / "named.toml"
    proto.write_text(TINY.read_text().replace('names = ["syn-kvasir", "syn-etis"]', 'names = ["syn-kvasir", "syn-nope"]'))
    line = one_line_error(run("compare", "random", "--protocol", proto, "--out", tmp_path / "run",
                              "--cache", tmp_path / "cache"))
    assert str(proto) in line and "'syn-nope'" in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


def test_validate_passes_set_overrides_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_run_compare(config, progress=None, **_):
        seen["overrides"] = config.overrides
        raise DelbenchError("stop here")

    monkeypatch.setattr("delbench.compare.runner.run_compare", fake_run_compare)
    res = run("validate", "--protocol", "ci", "--out", tmp_path / "run", "--set", "finetune.steps=7",
              "--set", "score.alpha=2")
    assert "stop here" in res.output, res.output
    assert seen["overrides"] == {"finetune.steps": 7, "score.alpha": 2}


# --- one default cache for every command -----------------------------------------------------------

def test_default_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from delbench.compare.plan import CompareConfig

    def default_cache() -> Path:
        return CompareConfig(selectors=("random",)).cache_dir()

    monkeypatch.delenv("DELBENCH_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache() == Path.home() / ".cache" / "delbench"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache() == tmp_path / "xdg" / "delbench"
    monkeypatch.setenv("DELBENCH_CACHE", str(tmp_path / "mine"))
    assert default_cache() == tmp_path / "mine"


@pytest.mark.parametrize("command", ["embed", "pretrain", "evaluate"])
@pytest.mark.parametrize("given", [False, True])
def test_stage_commands_use_the_compare_cache(command: str, given: bool, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from delbench.compare.plan import CompareConfig

    monkeypatch.setenv("DELBENCH_CACHE", str(tmp_path / "shared"))
    seen = []

    def fake(root, protocol, cache_dir, **_):
        seen.append(Path(cache_dir))
        if command == "embed":
            return tmp_path / "emb.npy"
        if command == "evaluate":
            return [{"task": "t", "seed": 0, "miou": 0.5, "miou_all": 0.5, "miou_dataset": 0.5, "dice": 0.5,
                     "empty_share": 0.0, "val_miou": 0.5, "seconds": 0.0}]
        from delbench.pretrain.stage import PretrainResult

        return PretrainResult(tmp_path / "w.safetensors", 1, 0.0)

    target = {"embed": "delbench.embed.stage.embed_pool", "pretrain": "delbench.pretrain.stage.pretrain",
              "evaluate": "delbench.evaluate.stage.evaluate"}[command]
    monkeypatch.setattr(target, fake)
    extra = ["--seed", "0"] if command == "evaluate" else []
    cache = tmp_path / "explicit"
    res = run(command, tmp_path, *extra, *(["--cache", cache] if given else []))
    assert res.exit_code == 0, res.output
    compare_cache = CompareConfig(selectors=("random",), cache=cache if given else None).cache_dir()
    assert seen == [compare_cache / "stages"]


# --- new-selector ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["random", "meddel", "dedup-only"])
def test_new_selector_refuses_installed_name(name: str, tmp_path: Path) -> None:
    line = one_line_error(run("new-selector", name, "--out", tmp_path))
    assert f"{name!r} is already installed" in line
    assert list(tmp_path.iterdir()) == []


# --- compare end to end: --set reaches the workers, run.json records it, reuse is reported ----------

SETS = ["--set", "pretrain.epochs_at_full=0.5", "--set", "finetune.steps=2", "--set", "finetune.eval_every=2"]


@pytest.fixture(scope="module")
def overridden(tmp_path_factory) -> tuple[Path, Path, Any, Any]:
    base = tmp_path_factory.mktemp("overridden")
    out, cache = base / "run", base / "cache"
    args = ["compare", "meddel", "--protocol", str(TINY), "--out", str(out), "--cache", str(cache), "--seeds", "0",
            "--tasks", "syn-kvasir", "--param", "meddel.epsilon=1", "--no-plots", *SETS]
    first = run(*args, "--jobs", "2")  # units in worker processes: they must see the overrides
    assert first.exit_code == 0, first.output
    second = run(*args, "--jobs", "1")  # the worker count is in no cache key: everything is reused
    assert second.exit_code == 0, second.output
    return out, cache, first, second


@pytest.mark.slow
def test_set_reaches_worker_processes_and_the_hash(overridden) -> None:
    from delbench.protocol import load_protocol

    out, _, _, _ = overridden
    plain = load_protocol(TINY)
    overrides = {"pretrain.epochs_at_full": 0.5, "finetune.steps": 2, "finetune.eval_every": 2}
    proto = plain.with_overrides(overrides)
    info = json.loads((out / "run.json").read_text())
    assert info["overrides"] == overrides
    assert info["protocol_hash"] == proto.hash() != plain.hash()
    assert info["protocol"]["pretrain"]["epochs_at_full"] == 0.5
    res = pd.read_parquet(out / "results.parquet")
    n_pool = 288  # the ci scale's pool
    pretrained = res[res.selector != "scratch"]
    assert set(pretrained["pretrain_steps"]) == {proto.pretrain_steps(n_pool)} != {plain.pretrain_steps(n_pool)}


@pytest.mark.slow
def test_run_json_records_filled_in_params(overridden) -> None:
    out, _, _, _ = overridden
    info = json.loads((out / "run.json").read_text())
    assert info["params"] == {"meddel": {"epsilon": 1.0, "k": None, "niter": 20, "nredo": 1, "train_per_centroid": 64, "epsilon_quantile": 0.0}}


@pytest.mark.slow
def test_compare_reports_reused_and_computed_stages(overridden) -> None:
    out, _, first, second = overridden
    # meddel R=0.25, full and scratch on one seed and one task: 1 select, 2 pre-trainings, 3 evaluations
    assert "stages reused: select 0, pretrain 0, evaluate 0\nstages computed: select 1, pretrain 2, evaluate 3" in first.output
    assert "stages reused: select 1, pretrain 2, evaluate 3\nstages computed: select 0, pretrain 0, evaluate 0" in second.output
    info = json.loads((out / "run.json").read_text())
    assert info["stages"]["evaluate"] == {"reused": 3, "computed": 0}
