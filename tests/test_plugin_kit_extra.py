"""Tools for plugin authors: where each plugin was loaded from, the testing helpers' documented
signatures, and shadowing an installed selector in a test."""
from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import delbench.plugin.testing as kit
from delbench.plugin import hookdoc
from delbench.cli import cli
from delbench.errors import DelbenchError
from delbench.plugin.manager import get_plugins
from delbench.selection import Selection, SelectionRequest
from delbench.testing import check_selector, registered_selector
from delbench.testing import delbench_register  # noqa: F401 - a fixture, used by name below

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "writing-a-selector.md"
BUILTINS = ("meddel", "random", "coreset", "dedup-only")


# --- `delbench plugins` shows where each plugin's module is --------------------------------------


def test_plugins_json_gives_each_plugins_module_path() -> None:
    res = CliRunner().invoke(cli, ["plugins", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    for plugin in payload["plugins"]:
        assert plugin["path"] and Path(plugin["path"]).is_file(), plugin
    paths = {p["name"]: Path(p["path"]) for p in payload["plugins"]}
    import delbench_meddel

    assert paths["meddel"] == Path(delbench_meddel.__file__).resolve()
    by_name = {s["name"]: s for s in payload["selectors"]}
    for name in BUILTINS:
        assert Path(by_name[name]["path"]) == paths[name]
    for fmt in payload["datasets"]:
        assert Path(fmt["path"]).is_file(), fmt


def test_plugins_table_shows_the_module_path() -> None:
    import delbench_random

    res = CliRunner().invoke(cli, ["plugins"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    assert str(Path(delbench_random.__file__).resolve()) in res.output


def test_in_code_plugin_path_is_its_source_file() -> None:
    with registered_selector(Shadow, name="kit-pathed"):
        info = {p.name: p for p in get_plugins().info()}
    assert Path(info["test-kit-pathed"].path) == Path(kit.__file__).resolve()


# --- the testing helpers' signatures are in the guide ----------------------------------------------


def _public_helpers() -> dict[str, object]:
    return {name: getattr(kit, name) for name in kit.__all__}


def test_every_public_helper_is_in_all() -> None:
    defined = {
        name for name, value in vars(kit).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == kit.__name__ and inspect.isfunction(value)
    }
    assert defined <= set(kit.__all__), f"public helpers missing from delbench.testing.__all__: {defined - set(kit.__all__)}"


@pytest.mark.parametrize("name", sorted(kit.__all__) if hasattr(kit, "__all__") else ["__all__"])
def test_helper_signature_is_documented(name: str) -> None:
    guide = GUIDE.read_text()
    value = getattr(kit, name)
    if name.startswith("delbench_"):  # a pytest fixture: documented by name
        assert f"`{name}`" in guide, f"fixture {name} is not in {GUIDE.name}"
    elif inspect.isfunction(value):
        signature = hookdoc.format_signature(value)
        assert signature in guide, f"{GUIDE.name} lacks the signature `{signature}`"
    else:
        assert f"{name} = {value!r}" in guide, f"{GUIDE.name} lacks `{name} = {value!r}`"


def test_format_signature_marks_keyword_only_parameters() -> None:
    def f(a: int, /, b: str = "x", *, c: bool = False) -> None: ...

    assert hookdoc.format_signature(f) == "f(a: int, /, b: str = 'x', *, c: bool = False) -> None"


def test_guide_seed_advice_is_consistent() -> None:
    guide = GUIDE.read_text()
    # One rule, stated where `seed` is introduced and applied in the determinism section.
    assert "use it only through `request.rng()`" not in guide
    assert "seed=request.seed" in guide and "call it once" in guide
    assert "DELBENCH_THREADS" in guide and "thread" in guide.split("## 6.")[1].split("## 7.")[0]


def test_guide_documents_a_non_editable_install() -> None:
    guide = GUIDE.read_text()
    assert re.search(r"pip install \.(?! -e)", guide) and "stale" in guide


# --- registered_selector can shadow an installed selector ------------------------------------------


class Shadow:
    """Keeps the first items: a stand-in for a development copy of an installed selector."""

    name = "random"

    def select(self, request: SelectionRequest) -> Selection:
        return Selection(indices=np.arange(request.target_count))


def test_registered_selector_shadows_an_installed_name() -> None:
    installed = get_plugins().selectors.get("random")
    with registered_selector(Shadow, replace=True) as entry:
        current = get_plugins().selectors.get("random")
        assert current.factory is Shadow and entry.factory is Shadow
        assert current.plugin != installed.plugin
        check_selector("random", ratios=(0.2,), n=100)
        picked = current.create().select(kit.make_request(0.1, n=100))
        assert np.array_equal(picked.indices, np.arange(10))
        # the installed plugin's other registrations, and every other selector, are untouched
        assert set(BUILTINS) <= set(get_plugins().selectors.names())
    back = get_plugins().selectors.get("random")
    assert back.factory is installed.factory and back.plugin == installed.plugin


def test_without_replace_an_installed_name_is_still_a_clash() -> None:
    with pytest.raises(DelbenchError, match="already registered by plugin 'random'"):
        with registered_selector(Shadow):
            pass
    assert get_plugins().selectors.get("random").plugin == "random"


def test_a_shadowing_plugin_cannot_register_one_name_twice() -> None:
    from delbench import hookimpl
    from delbench.plugin.manager import temporary_plugin

    class Twice:
        @hookimpl
        def delbench_register_selectors(self, register) -> None:
            register(Shadow)
            register(Shadow)

    with temporary_plugin(Twice(), name="kit-twice", replace=True):
        with pytest.raises(DelbenchError, match="already registered by plugin 'kit-twice'"):
            get_plugins().selectors


@pytest.mark.parametrize("name", ["full", "scratch"])
def test_a_selector_cannot_take_a_reference_rows_name(name: str) -> None:
    """A selector called `full` would merge into the reference rows of every table."""
    from delbench import hookimpl
    from delbench.plugin.manager import temporary_plugin

    class Reserved:
        @hookimpl
        def delbench_register_selectors(self, register) -> None:
            register(Shadow, name=name)

    with temporary_plugin(Reserved(), name="kit-reserved"):
        with pytest.raises(DelbenchError, match=f"'{name}' is reserved"):
            get_plugins().selectors


def test_register_fixture_can_shadow(delbench_register) -> None:  # noqa: F811 - the fixture
    delbench_register(Shadow, replace=True)
    assert get_plugins().selectors.get("random").factory is Shadow

