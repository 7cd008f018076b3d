"""The select stage's cache key covers the implementation: an edited selector, or another one under the
same name, is rerun; an unchanged one is served from the cache."""
from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from delbench import hookimpl
from delbench.compare.plan import CompareConfig
from delbench.compare.runner import select_all
from delbench.plugin.manager import get_plugins, temporary_plugin
from delbench.progress import no_progress
from delbench.plugin.provenance import implementation_hash
from delbench.selection import Selection, SelectionRequest
from delbench.select.subset import read_subset
from delbench.store.rundir import RunDir
from delbench.testing import make_embeddings, registered_selector

RATIO = 0.25


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny synthetic root and embeddings for its pool (random vectors: no embedder needed)."""
    from delbench.data.manifest import pool_rows, read_manifest
    from delbench.data.synth import generate

    root = generate(tmp_path_factory.mktemp("data") / "root", scale="ci")
    emb = root.parent / "emb.npy"
    np.save(emb, make_embeddings(n=len(pool_rows(read_manifest(root))), d=8))
    return root, emb


def select(data: tuple[Path, Path], cache: Path, name: str) -> tuple[Path, np.ndarray, dict[str, Any]]:
    """Run the select stage of ``compare`` for ``name``; return its stage directory, indices and sidecar."""
    root, emb = data
    config = CompareConfig(selectors=(name,), cache=cache)
    entries = {name: get_plugins().selectors.get(name)}
    (unit, *_) = select_all(config, entries, root, emb, (RATIO,), (0,), RunDir(cache.parent / "run"), no_progress)
    assert unit.selector == name and unit.subset is not None
    stages = [p for p in (cache / "stages" / "select").iterdir() if p.is_dir()]
    newest = max(stages, key=lambda p: (p / "stage.json").stat().st_mtime_ns)
    idx, meta = read_subset(newest / f"r{RATIO:g}.npy")
    assert np.array_equal(idx, np.load(unit.subset))
    return newest, idx, meta


SOURCE = '''
from __future__ import annotations

import numpy as np

from delbench import hookimpl
from delbench.selection import Selection


class Edited:
    name = "edited"

    def select(self, request):
        return Selection(indices={keep})


@hookimpl
def delbench_register_selectors(register):
    register(Edited)
'''


def load_module(path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``path`` afresh, as a rerun of ``compare`` after an edit would."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, path.stem, module)
    spec.loader.exec_module(module)
    return module


def test_edited_source_is_recomputed(data, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    cache = tmp_path / "cache"
    path = tmp_path / "edited_selector.py"
    path.write_text(SOURCE.format(keep="np.arange(request.target_count)"))
    with temporary_plugin(load_module(path, monkeypatch), name="edited-plugin"):
        first_stage, first, first_meta = select(data, cache, "edited")
    # the same plugin, the same name, the same version: only the source changed
    path.write_text(SOURCE.format(keep="np.arange(request.n - request.target_count, request.n)"))
    with temporary_plugin(load_module(path, monkeypatch), name="edited-plugin"):
        second_stage, second, second_meta = select(data, cache, "edited")
    assert second_stage != first_stage
    assert not np.array_equal(first, second)
    assert first_meta["implementation"]["source_sha256"] != second_meta["implementation"]["source_sha256"]
    assert first_meta["implementation"]["plugin"] == second_meta["implementation"]["plugin"] == "edited-plugin"


class FirstItems:
    """Keeps the first items of the pool."""

    name = "swap"

    def select(self, request: SelectionRequest) -> Selection:
        return Selection(indices=np.arange(request.target_count))


class LastItems:
    """Keeps the last items of the pool."""

    name = "swap"

    def select(self, request: SelectionRequest) -> Selection:
        return Selection(indices=np.arange(request.n - request.target_count, request.n))


def test_another_implementation_under_the_same_name_is_recomputed(data, tmp_path) -> None:
    cache = tmp_path / "cache"
    with registered_selector(FirstItems):
        first_stage, first, _ = select(data, cache, "swap")
    with registered_selector(LastItems):
        second_stage, second, _ = select(data, cache, "swap")
    assert second_stage != first_stage
    assert np.array_equal(first, np.arange(first.size)) and not np.array_equal(first, second)


@contextlib.contextmanager
def provided_by(plugin: str, factory: Callable[..., Any]) -> Iterator[None]:
    class Provider:
        @hookimpl
        def delbench_register_selectors(self, register: Callable[..., None]) -> None:
            register(factory)

    with temporary_plugin(Provider(), name=plugin):
        yield


def test_another_providing_plugin_is_recomputed(data, tmp_path) -> None:
    cache = tmp_path / "cache"
    with provided_by("plugin-a", FirstItems):
        first_stage, _, first_meta = select(data, cache, "swap")
    with provided_by("plugin-b", FirstItems):
        second_stage, _, second_meta = select(data, cache, "swap")
    assert second_stage != first_stage
    assert (first_meta["implementation"]["plugin"], second_meta["implementation"]["plugin"]) == ("plugin-a", "plugin-b")


class Counted:
    """Keeps the first items and counts its runs."""

    name = "counted"
    runs = 0

    def select(self, request: SelectionRequest) -> Selection:
        type(self).runs += 1
        return Selection(indices=np.arange(request.target_count))


def test_unchanged_implementation_is_served_from_cache(data, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(Counted, "runs", 0)
    cache = tmp_path / "cache"
    with registered_selector(Counted):
        first_stage, first, meta = select(data, cache, "counted")
    built = (first_stage / "stage.json").stat().st_mtime_ns
    # a fresh plugin manager, as in a new process: the registration is rebuilt, the key must not move
    with registered_selector(Counted):
        second_stage, second, _ = select(data, cache, "counted")
    assert Counted.runs == 1
    assert second_stage == first_stage and (second_stage / "stage.json").stat().st_mtime_ns == built
    assert np.array_equal(first, second)
    assert set(meta["implementation"]) == {"plugin", "package", "version", "source_sha256", "harness_sha256"}


def test_package_hash_covers_its_helper_modules(tmp_path, monkeypatch) -> None:
    package = tmp_path / "cachekey_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from cachekey_pkg.helper import keep\n\nclass Sel:\n    name = 'pkg'\n")
    (package / "helper.py").write_text("def keep(n):\n    return list(range(n))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    try:
        module = importlib.import_module("cachekey_pkg")
        before = implementation_hash(module.Sel)
        assert implementation_hash(module.Sel) == before
        (package / "helper.py").write_text("def keep(n):\n    return list(range(n))[::-1]\n")
        assert implementation_hash(module.Sel) != before
    finally:
        sys.modules.pop("cachekey_pkg", None)
        sys.modules.pop("cachekey_pkg.helper", None)


def test_edited_harness_selection_code_is_recomputed(data, tmp_path, monkeypatch) -> None:
    """A selector that calls shared harness code (``delbench.select.similarity``, a pipeline) gives
    another subset when that code changes, though its own source did not."""
    from delbench.plugin import provenance

    package = tmp_path / "harness_stub"
    package.mkdir()
    (package / "__init__.py").write_text("RULE = 'first'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(provenance, "SELECTION_CODE", ("harness_stub",))
    cache = tmp_path / "cache"
    try:
        with registered_selector(Counted):
            first_stage, _, first_meta = select(data, cache, "counted")
        (package / "helper.py").write_text("RULE = 'last'\n")  # a new module in the harness package
        with registered_selector(Counted):
            second_stage, _, second_meta = select(data, cache, "counted")
    finally:
        sys.modules.pop("harness_stub", None)
    assert second_stage != first_stage
    assert first_meta["implementation"]["source_sha256"] == second_meta["implementation"]["source_sha256"]
    assert first_meta["implementation"]["harness_sha256"] != second_meta["implementation"]["harness_sha256"]


def test_default_harness_code_covers_the_selection_package() -> None:
    from delbench.plugin import provenance

    assert provenance.code_hash() == provenance.code_hash(("delbench.select", "delbench.selection"))
    assert provenance.code_hash(("delbench.select",)) != provenance.code_hash(("delbench.selection",))
    assert len(provenance.code_hash(("no_such_module_here",))) == 64  # named, never raises


def _partial_target(ratio: float = 0.5) -> None:
    return None


@pytest.mark.parametrize("factory", [
    len,  # a builtin: no source at all
    lambda: None,
    functools.partial(_partial_target, ratio=0.2),
    FirstItems(),  # an instance: hashed through its class
], ids=["builtin", "lambda", "partial", "instance"])
def test_hash_never_fails(factory) -> None:
    digest = implementation_hash(factory)
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_hash_of_code_without_a_file() -> None:
    first: dict[str, Any] = {"__name__": "not_a_module"}
    exec("class Made:\n    name = 'made'\n", first)  # noqa: S102 - a factory defined outside any file
    second: dict[str, Any] = {"__name__": "not_a_module"}
    exec("class Made:\n    name = 'made'\n", second)  # noqa: S102
    assert implementation_hash(first["Made"]) == implementation_hash(second["Made"])
    assert implementation_hash(first["Made"]) != implementation_hash(FirstItems)


def test_another_pool_manifest_is_recomputed(tmp_path):
    """Two roots with the same pixels (same embeddings) but other manifest rows, e.g. other ground truth."""
    from delbench.compare.runner import select_key

    a = select_key("oracle", {"source_sha256": "x"}, {}, "emb", 0, (0.1,), "manifest-a")
    b = select_key("oracle", {"source_sha256": "x"}, {}, "emb", 0, (0.1,), "manifest-b")
    from delbench.store.cache import config_hash

    assert config_hash(a) != config_hash(b)
