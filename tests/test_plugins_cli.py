from __future__ import annotations

import json
import types

import pytest
from click.testing import CliRunner

from delbench import hookimpl
from delbench.plugin import manager as plugins
from delbench.cli import cli
from delbench.errors import DelbenchError

BUILTINS = {"meddel", "random", "coreset", "dedup-only", "quality", "prototypes", "hkmeans", "agglomerative"}
ONE_LINE = r'^Error loading delbench plugin "{name}" \(from package {package}\): '


def test_plugins_lists_all_builtins() -> None:
    res = CliRunner().invoke(cli, ["plugins"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    for name in BUILTINS:
        assert name in res.output


def test_plugins_json() -> None:
    res = CliRunner().invoke(cli, ["plugins", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    by_name = {s["name"]: s for s in payload["selectors"]}
    assert BUILTINS <= set(by_name)
    for name in BUILTINS:
        assert by_name[name]["package"] == "delbench" and by_name[name]["description"]
    assert by_name["meddel"]["params"]["epsilon"] == 0.9
    assert {p["name"] for p in payload["plugins"]} >= {"meddel", "random", "coreset", "dedup-only"}


class _Raising:
    @hookimpl
    def delbench_register_selectors(self, register):
        raise RuntimeError("boom while registering\nsecond line")


class _Duplicate:
    @hookimpl
    def delbench_register_selectors(self, register):
        from delbench_random import RandomSelector

        register(RandomSelector)


def _check_one_line(message: str, name: str, package: str) -> None:
    import re

    assert "\n" not in message
    assert re.match(ONE_LINE.format(name=re.escape(name), package=re.escape(package)), message), message


def test_hook_that_raises_gives_one_line_error() -> None:
    with plugins.temporary_plugin(_Raising(), "x") as loaded:
        with pytest.raises(DelbenchError) as err:
            loaded.selectors
        _check_one_line(str(err.value), "x", "(in code)")
        assert "RuntimeError: boom while registering" in str(err.value)
        res = CliRunner().invoke(cli, ["plugins"])
        assert res.exit_code != 0
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and 'Error loading delbench plugin "x"' in lines[0]


def test_duplicate_name_gives_one_line_error() -> None:
    with plugins.temporary_plugin(_Duplicate(), "dupe") as loaded:
        with pytest.raises(DelbenchError) as err:
            loaded.selectors
    message = str(err.value)
    # Registration runs in plugin-name order, so the second of the two is the one reported; the line
    # names both plugins either way.
    assert "\n" not in message and message.startswith('Error loading delbench plugin "')
    assert "'random' is already registered" in message
    assert '"dupe"' in message or "'dupe'" in message
    assert "delbench" in message


class _FakeDist:
    metadata = {"Name": "y"}
    version = "9.9"


class _FakeEntryPoint:
    name = "x"
    dist = _FakeDist()

    def load(self):
        raise ImportError("No module named 'delbench_x_missing'")


def test_entry_point_that_fails_to_import(monkeypatch) -> None:
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group=None: [_FakeEntryPoint()])
    plugins.reset()
    with pytest.raises(DelbenchError) as err:
        plugins.load_plugins()
    _check_one_line(str(err.value), "x", "y")
    assert "ImportError" in str(err.value)


def test_env_switches(monkeypatch) -> None:
    monkeypatch.setenv(plugins.ENV_ONLY, "random")
    assert plugins.load_plugins().selectors.names() == ["random"]
    monkeypatch.delenv(plugins.ENV_ONLY)
    monkeypatch.setenv(plugins.ENV_DISABLE, "1")
    assert plugins.load_plugins().selectors.names() == []


def test_registration_does_not_import_faiss() -> None:
    import subprocess
    import sys

    code = "import sys; from delbench.plugin.manager import get_plugins; get_plugins().selectors; print('faiss' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_every_plugin_package_is_an_entry_point() -> None:
    # An installed checkout registers built-ins from pyproject.toml alone: a package under plugins/
    # without its line there is never loaded (and the tests that register it by hand cannot see that).
    from pathlib import Path

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    root = Path(__file__).resolve().parents[1]
    declared = set(tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]["delbench"].values())
    packages = {p.name for p in (root / "plugins").iterdir() if (p / "__init__.py").exists()}
    assert packages <= declared, sorted(packages - declared)


def test_plugin_module_is_a_module() -> None:
    # The built-ins are registered as modules, the same path a third-party package takes.
    loaded = plugins.load_plugins()
    assert all(isinstance(p, types.ModuleType) for n, p in loaded.pm.list_name_plugin() if n in BUILTINS)
