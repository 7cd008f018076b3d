"""Every hook in delbench/plugin/hookspecs.py is documented in docs/hooks.md and exercised by a test."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from delbench.plugin import hookdoc, hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS_MD = ROOT / "docs" / "hooks.md"


@pytest.fixture(scope="module")
def hooks_md() -> str:
    return HOOKS_MD.read_text()


def test_hooks_md_is_up_to_date(hooks_md: str) -> None:
    assert hooks_md == hookdoc.render(), "docs/hooks.md is stale: run `python -m delbench.plugin.hookdoc`"


def test_hook_names_cover_every_spec() -> None:
    specs = {name for name, value in vars(hookspecs).items() if hasattr(value, "delbench_spec")}
    assert specs == set(hookspecs.HOOK_NAMES)


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_is_documented(name: str, hooks_md: str) -> None:
    func = getattr(hookspecs, name)
    assert func.__doc__ and func.__doc__.strip(), f"hook {name} has no docstring in delbench/plugin/hookspecs.py"
    signature = hookdoc.format_signature(func)
    assert f"## `{name}`" in hooks_md
    assert f"```python\n{signature}\n```" in hooks_md, f"docs/hooks.md lacks the signature {signature}"
    assert hookdoc.hook_doc(func) in hooks_md


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_documented_signature_is_the_real_one(name: str) -> None:
    func = getattr(hookspecs, name)
    sig = inspect.signature(func)
    text = hookdoc.format_signature(func)
    assert text.startswith(f"{name}(")
    for param in sig.parameters.values():
        assert re.search(rf"\b{param.name}: {re.escape(str(param.annotation))}", text), param.name
    assert text.endswith(f"-> {sig.return_annotation}")


def test_format_signature_handles_defaults_and_varargs() -> None:
    def f(a, b: int = 2, *args: str, c=None, **kw: float) -> bool: ...

    assert hookdoc.format_signature(f) == "f(a, b: int = 2, *args: str, c=None, **kw: float) -> bool"


def _test_sources() -> dict[str, str]:
    here = Path(__file__).name
    return {p.name: p.read_text() for p in sorted((ROOT / "tests").rglob("*.py")) if p.name != here}


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_is_exercised_by_a_test(name: str) -> None:
    # A test "exercises" a hook when it implements it in a throwaway plugin (def NAME(...)).
    users = [f for f, text in _test_sources().items() if re.search(rf"def {name}\(", text)]
    assert users, f"no test under tests/ implements hook {name}: add one that registers a throwaway plugin with it"


def test_check_mode(tmp_path: Path) -> None:
    target = tmp_path / "hooks.md"
    assert hookdoc.main(["--check", str(target)]) == 1
    assert hookdoc.main([str(target)]) == 0
    assert hookdoc.main(["--check", str(target)]) == 0
    assert target.read_text() == hookdoc.render()
