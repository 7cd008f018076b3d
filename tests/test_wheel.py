"""A built wheel, installed outside the checkout, carries the protocols and the built-in selectors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILTIN_PLUGINS = ("delbench_meddel", "delbench_random", "delbench_coreset", "delbench_dedup", "delbench_reference",
                   "delbench_quality", "delbench_prototypes", "delbench_hkmeans", "delbench_agglomerative")
# Top-level entries that are outputs, environments or data, never part of a build.
_SKIP_TOP = {".git", ".venv", "runs", "data", "build", "dist", ".pytest_cache"}

pytestmark = pytest.mark.slow


def _copy_source(dest: Path) -> Path:
    """The working tree without outputs: building there leaves the checkout's build/ and egg-info alone."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
        if Path(directory).resolve() == ROOT:
            skip |= _SKIP_TOP & set(names)
        return skip

    shutil.copytree(ROOT, dest, symlinks=True, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = _copy_source(tmp / "src")
    dist = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), "."],
        cwd=src, capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("delbench-*.whl")
    site = tmp / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return site


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELBENCH_")}
    env.update(PYTHONPATH=str(site), DELBENCH_CACHE=str(cwd / "cache"), COLUMNS="250")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_wheel_contains_the_protocols(wheel_site: Path) -> None:
    names = sorted(p.name for p in (wheel_site / "delbench" / "protocols").glob("*.toml"))
    assert {"ci.toml", "smoke.toml", "small.toml", "paper.toml"} <= set(names)


def test_installed_wheel_is_what_runs(wheel_site: Path, tmp_path: Path) -> None:
    code = (
        "import importlib, json, delbench.plugin.manager as p\n"
        "loaded = p.get_plugins()\n"
        f"mods = {{m: importlib.import_module(m).__file__ for m in {BUILTIN_PLUGINS!r}}}\n"
        "eps = {n: getattr(o, '__file__', '') for n, o in loaded.pm.list_name_plugin()}\n"
        "import delbench\n"
        "print(json.dumps({'delbench': delbench.__file__, 'modules': mods, 'entry_points': eps}))\n"
    )
    res = _run(wheel_site, tmp_path, "-c", code)
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)
    site = str(wheel_site.resolve())
    assert Path(found["delbench"]).resolve().is_relative_to(site), found["delbench"]
    for module, path in found["modules"].items():
        assert Path(path).resolve().is_relative_to(site), f"{module} loaded from {path}"
    # The plugins the entry points loaded are the wheel's modules, not the checkout's.
    for name in ("meddel", "random", "coreset", "dedup-only", "quality", "prototypes", "hkmeans", "agglomerative"):
        assert Path(found["entry_points"][name]).resolve().is_relative_to(site), found["entry_points"][name]


def test_installed_wheel_lists_protocols(wheel_site: Path, tmp_path: Path) -> None:
    res = _run(wheel_site, tmp_path, "-m", "delbench.cli", "protocols")
    assert res.returncode == 0, res.stderr
    listed = {line.split()[0] for line in res.stdout.splitlines() if line and not line[0].isspace()}
    assert {"ci", "smoke", "small", "paper"} <= listed, res.stdout
    res = _run(wheel_site, tmp_path, "-m", "delbench.cli", "protocols", "--show", "ci")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["name"] == "ci"


def test_installed_wheel_selects(wheel_site: Path, tmp_path: Path) -> None:
    import numpy as np

    from delbench.embed.vectors import save_embeddings

    emb = np.random.default_rng(0).standard_normal((200, 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    save_embeddings(tmp_path / "E.npy", emb, {"embedder": "test"})
    res = _run(wheel_site, tmp_path, "-m", "delbench.cli", "select", "random", "--embeddings", "E.npy",
               "--ratio", "0.1", "--out", "S.npy")
    assert res.returncode == 0, res.stderr
    kept = np.load(tmp_path / "S.npy")
    assert kept.size == 20 and np.unique(kept).size == 20


def test_checkout_protocols_link_into_the_package() -> None:
    from delbench.protocol import PROTOCOL_DIR

    link = ROOT / "protocols"
    assert link.is_symlink() and not Path(os.readlink(link)).is_absolute()
    assert link.resolve() == PROTOCOL_DIR.resolve() == (ROOT / "delbench" / "protocols").resolve()


def test_installed_wheel_writes_the_html_report(wheel_site: Path, tmp_path: Path) -> None:
    from delbench.compare.results import write_frame
    from tests.test_report import fake_results

    run = tmp_path / "run"
    run.mkdir()
    write_frame(fake_results(), run / "results.parquet")
    (run / "run.json").write_text(json.dumps({"selectors": ["meddel", "random"], "ratios": [0.2, 0.5],
                                              "seeds": [0, 1, 2], "data_root": ""}))
    res = _run(wheel_site, tmp_path, "-m", "delbench.cli", "report", "run", "--no-plots")
    assert res.returncode == 0, res.stderr
    html = (run / "report.html").read_text()  # the templates are package data of the wheel
    assert 'id="summary"' in html and "<style>" in html and "<script>" in html
