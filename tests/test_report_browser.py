"""report.html and leaderboard.html in a real browser (a headless system Chromium driven by
playwright): no console errors, every image loaded, every table there, a screenshot that is not
blank, and a click on a header that reorders the rows. The pages come from real `ci` runs."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.report.browser import ENV, find_chromium, page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(f"no Chromium on this machine: `make test` installs it where apt-get runs as root, or set {ENV}")
    return path


def rows(p, table_id: str, col: int) -> list[str]:
    return p.eval_on_selector_all(f'[id="{table_id}"] tbody tr',
                                  f"trs => trs.map(tr => tr.cells[{col}].textContent.trim())")


def sort_keys(p, table_id: str, col: int) -> list:
    return p.eval_on_selector_all(
        f'[id="{table_id}"] tbody tr',
        f"trs => trs.map(tr => {{ const c = tr.cells[{col}]; const s = c.getAttribute('data-sort');"
        f" return s === null ? c.textContent.trim() : Number(s); }})")


def ordered(keys: list, reverse: bool = False) -> bool:
    numbers = [k for k in keys if isinstance(k, (int, float))]
    texts = [k for k in keys if isinstance(k, str)]
    # numbers first in either direction of a column that mixes them with "–"; then text
    assert keys[: len(numbers)] == numbers or keys[len(texts):] == numbers
    return numbers == sorted(numbers, reverse=reverse) and texts == sorted(texts, reverse=reverse)


def look(chromium: str, html: Path, tables: set[str], sort_table: str, name_col: int, number_col: int) -> dict:
    """Open ``html``, check what every page must satisfy, and return what the caller checks further."""
    from PIL import Image

    errors: list[str] = []
    with page(chromium) as p:
        p.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        p.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        p.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:80]}"))
        p.goto(html.resolve().as_uri())
        p.wait_for_load_state("load")
        images = p.eval_on_selector_all("img", "els => els.map(e => [e.complete && e.naturalWidth > 0, "
                                               "e.getAttribute('src').slice(0, 24), e.getAttribute('title') || ''])")
        present = set(p.eval_on_selector_all("table", "els => els.map(e => e.id)"))
        shot = np.asarray(Image.open(io.BytesIO(p.screenshot(full_page=False))).convert("L"), dtype=float)

        before = rows(p, sort_table, name_col)
        header = f'[id="{sort_table}"] thead th'
        p.locator(header).nth(name_col).click()
        up = rows(p, sort_table, name_col)
        assert ordered(sort_keys(p, sort_table, name_col))
        p.locator(header).nth(name_col).click()
        down = rows(p, sort_table, name_col)
        assert ordered(sort_keys(p, sort_table, name_col), reverse=True)
        assert up != before or down != before, "sorting changed no row's place"
        p.locator(header).nth(number_col).click()
        assert ordered(sort_keys(p, sort_table, number_col))
        assert sorted(rows(p, sort_table, name_col)) == sorted(before)  # sorting moves rows, loses none
    assert not errors, errors
    assert all(ok for ok, _, _ in images), [src for ok, src, _ in images if not ok]
    assert all(src.startswith("data:image/") for _, src, _ in images)
    assert tables <= present, tables - present
    assert shot.std() > 20 and len(np.unique(shot)) > 50, "the screenshot is blank"
    return {"images": images}


def test_report_in_a_browser(chromium, ci_runs):
    html = ci_runs.seed0 / "report.html"
    ratios = ("0.1", "0.5")
    tables = {"summary", "removal", "params", "invocations"} | {f"ratio-{r}-{m}" for r in ratios for m in ("miou", "normdel")}
    # summary columns: 0 selector, 4 NormDEL
    seen = look(chromium, html, tables, "summary", 0, 4)
    images = seen["images"]
    plots = [t for _, _, t in images if "ratio" in t]
    assert len(plots) == 2
    thumbs = [t for _, _, t in images if t.startswith(("removed", "kept"))]
    assert any(t.startswith("removed: ") for t in thumbs) and any(t.startswith("kept") for t in thumbs)
    text = html.read_text()
    for sel in ("meddel", "random"):
        for r in ratios:
            assert f'id="gallery-{sel}-r{r}"' in text


def test_leaderboard_in_a_browser(chromium, ci_runs, tmp_path):
    out = tmp_path / "board"
    result = CliRunner().invoke(cli, ["board", str(ci_runs.seed0), str(ci_runs.seed1), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # board columns: 1 selector, 5 NormDEL
    look(chromium, out / "leaderboard.html", {"board-r0.1", "board-r0.5", "board-references", "runs"}, "board-r0.1", 1, 5)
