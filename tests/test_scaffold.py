"""`delbench new-selector`: the generated package installs, and passes the contract once filled in."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.errors import DelbenchError
from delbench.plugin.manager import temporary_plugin
from delbench.plugin.scaffold import DOCS_POINTER, names_for, render, scaffold
from delbench.testing import check_selector

TRIVIAL = "return Selection(indices=request.rng().choice(request.n, size=request.target_count, replace=False))"


@pytest.mark.parametrize("name", ["mine", "quality-filter", "knn2", "a-1-b"])
def test_valid_names(name: str) -> None:
    names = names_for(name)
    assert names.selector == name and names.module.isidentifier() and names.cls.isidentifier()
    assert names.distribution == f"delbench-{name}"


def test_delbench_prefix_is_not_doubled() -> None:
    names = names_for("delbench-mine")
    assert (names.distribution, names.module) == ("delbench-mine", "delbench_mine")


@pytest.mark.parametrize("name", ["", "Mine", "my_sel", "1abc", "a--b", "-a", "a-", "a b", "ä"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(DelbenchError, match="lowercase letters, digits and single dashes"):
        names_for(name)


def test_render_has_entry_point_and_skeleton() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    files = render("my-sel")
    assert set(files) == {"pyproject.toml", "delbench_my_sel.py", "conftest.py", "tests/test_delbench_my_sel.py", "README.md"}
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["name"] == "delbench-my-sel"
    assert project["project"]["entry-points"]["delbench"] == {"my-sel": "delbench_my_sel"}
    assert project["tool"]["setuptools"]["py-modules"] == ["delbench_my_sel"]
    module = files["delbench_my_sel.py"]
    assert "@hookimpl\ndef delbench_register_selectors(register):" in module
    assert 'raise NotImplementedError("my-sel.select' in module and DOCS_POINTER in module
    assert 'check_selector("my-sel")' in files["tests/test_delbench_my_sel.py"]
    for name, text in files.items():
        if name.endswith(".py"):
            compile(text, name, "exec")


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "delbench-taken").mkdir()
    (tmp_path / "delbench-taken" / "keep.txt").write_text("mine")
    with pytest.raises(DelbenchError, match="already exists"):
        scaffold("taken", tmp_path)
    assert (tmp_path / "delbench-taken" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["delbench-taken"]


def test_cli_writes_package(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new-selector", "cli-sel", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "CliSelSelector.select" in result.output and "delbench compare cli-sel meddel" in result.output
    pkg = tmp_path / "delbench-cli-sel"
    assert sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*") if p.is_file()) == sorted(render("cli-sel"))
    assert [p.name for p in tmp_path.iterdir()] == ["delbench-cli-sel"]  # no temp directory left behind


def test_cli_rejects_bad_name_and_existing_dir(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["new-selector", "Bad_Name", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "is not valid" in bad.output
    assert runner.invoke(cli, ["new-selector", "twice", "--out", str(tmp_path)]).exit_code == 0
    again = runner.invoke(cli, ["new-selector", "twice", "--out", str(tmp_path)])
    assert again.exit_code != 0 and "already exists" in again.output


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Scaffold selector ``scaffold-probe`` into tmp and return (package dir, import function)."""
    pkg = scaffold("scaffold-probe", tmp_path)
    monkeypatch.syspath_prepend(str(pkg))
    module_name = "delbench_scaffold_probe"

    def load():
        sys.modules.pop(module_name, None)
        return importlib.import_module(module_name)

    yield pkg, load
    sys.modules.pop(module_name, None)


def test_unfilled_skeleton_fails_with_pointer_to_docs(generated) -> None:
    _, load = generated
    with temporary_plugin(load(), name="scaffold-probe"):
        with pytest.raises(NotImplementedError, match=DOCS_POINTER):
            check_selector("scaffold-probe")


def test_filled_skeleton_passes_contract_and_its_own_tests(generated) -> None:
    pkg, load = generated
    source = pkg / "delbench_scaffold_probe.py"
    lines = source.read_text().splitlines(keepends=True)
    (at,) = [i for i, line in enumerate(lines) if "raise NotImplementedError" in line]
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines[at] = indent + TRIVIAL + "\n"
    source.write_text("".join(lines))
    with temporary_plugin(load(), name="scaffold-probe") as loaded:
        entry = loaded.selectors.get("scaffold-probe")
        assert entry.params() == {"example_param": 1.0}
        check_selector("scaffold-probe")
        # The generated test file itself, as `pytest` in the package would run it.
        spec = importlib.util.spec_from_file_location("generated_tests", pkg / "tests" / "test_delbench_scaffold_probe.py")
        tests = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tests)
        for name in ("test_contract", "test_keeps_target_count"):
            getattr(tests, name)()
