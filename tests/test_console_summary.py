"""The console summary fits an 80-column terminal whatever the selector names and values, and
--format md|csv|json give scripts the same numbers with nothing else on stdout."""
from __future__ import annotations

import io
import json

import pandas as pd
from click.testing import CliRunner

from delbench.cli import cli
from delbench.compare.results import write_frame
from delbench.report.console import WIDTH, stage_lines, summary_lines
from tests.test_report import fake_results
from tests.test_report_html import INFO


def wide_results() -> pd.DataFrame:
    """Long selector names, ten seeds, and differences large enough to need every digit."""
    res = pd.concat([fake_results(seeds=range(10))], ignore_index=True)
    res["selector"] = res["selector"].replace({"meddel": "a-selector-with-a-very-long-plugin-name"})
    res.loc[res.selector.str.startswith("a-selector"), ["miou", "normdel"]] = 0.999
    res.loc[res.selector == "random", ["miou", "normdel"]] = 0.01 * (1 + res["seed"] % 3)
    return res


def test_summary_lines_fit_80_columns():
    lines = summary_lines(wide_results())
    assert max(len(line) for line in lines) <= WIDTH, "\n".join(lines)
    # numbers are never cut: the paired difference shows in full, the long name gives way
    text = "\n".join(lines)
    assert "+9" in text and "]" in text
    assert "a-selector-with" in text and "…" in text
    # R is written once per block, the references have their own block
    assert sum(line.startswith("R = 0.2 ") for line in lines) == 1
    assert "references" in lines


def test_stage_lines_are_short():
    counts = {s: {"reused": 12345, "computed": 67890} for s in ("select", "pretrain", "evaluate")}
    assert all(len(line) <= WIDTH for line in stage_lines(counts))


def make_run(tmp_path):
    write_frame(fake_results(), tmp_path / "results.parquet")
    (tmp_path / "run.json").write_text(json.dumps(INFO))
    return tmp_path


def test_report_text_fits_and_ends_with_the_report_path(tmp_path):
    run = make_run(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(run), "--no-plots"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == f"report: {run / 'report.html'}"
    assert (run / "report.html").is_file()
    # the long removal table and the per-task tables are in the report; the console points there
    assert any("report.html" in line and "removal" in line for line in lines)
    assert all(len(line) <= WIDTH for line in lines if not line.startswith(("report:", "run directory:")))


def test_formats_for_scripts(tmp_path):
    run = make_run(tmp_path)

    def stdout(fmt: str) -> str:
        result = CliRunner().invoke(cli, ["report", str(run), "--no-plots", "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "report.html" in result.stderr  # the pointer goes to stderr, stdout stays parseable
        return result.stdout

    payload = json.loads(stdout("json"))
    assert payload["report"].endswith("report.html")
    rows = {(r["selector"], r["ratio_target"]): r for r in payload["summary"]}
    assert rows[("meddel", 0.2)]["win"] == 3 and rows[("random", 0.2)]["diff"] is None
    frame = pd.read_csv(io.StringIO(stdout("csv")))
    assert {"selector", "ratio_target", "normdel", "normdel_ci", "diff", "mde", "win"} <= set(frame.columns)
    assert len(frame) == len(payload["summary"])
    assert frame.loc[(frame.selector == "meddel") & (frame.ratio_target == 0.2), "normdel"].item() == \
        rows[("meddel", 0.2)]["normdel"]
    md = stdout("md")
    assert "### Summary" in md and "### Retained ratio 0.2: mIoU x100" in md and "| meddel |" in md


def _block(lines: list[str], ratio: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith(f"R = {ratio} "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def test_each_ratio_says_whether_a_selector_differs_from_random_beyond_noise():
    res = fake_results()  # meddel 10 points above random at R = 0.2, with 1 point of noise
    at = res.set_index(["selector", "ratio_target", "seed", "task"])
    # at R = 0.5 meddel scores random's numbers, shifted up on one seed and down on another
    for seed, shift in ((0, 0.03), (1, -0.03), (2, 0.0)):
        for col in ("miou", "normdel"):
            for task in ("polyp-a", "polyp-b"):
                at.loc[("meddel", 0.5, seed, task), col] = at.loc[("random", 0.5, seed, task), col] + shift
    res = at.reset_index()
    lines = summary_lines(res)
    assert "  meddel: above random beyond seed noise (95% CI excludes 0)" in _block(lines, "0.2")
    within = [line for line in _block(lines, "0.5") if "meddel:" in line]
    assert len(within) == 1 and "no difference from random beyond seed noise (MDE" in within[0]
    assert max(len(line) for line in lines) <= WIDTH
    # random itself gets no verdict line
    assert not any(line.strip().startswith("random:") for line in lines)


def test_below_random_and_a_single_seed_are_said_too():
    res = fake_results()
    res.loc[res.selector == "meddel", ["miou", "normdel"]] = res.loc[res.selector == "meddel", ["miou", "normdel"]] - 0.3
    assert "  meddel: below random beyond seed noise (95% CI excludes 0)" in summary_lines(res)
    one = summary_lines(fake_results(seeds=(0,)))
    assert "  meddel: no interval with 1 seed(s); run 2 or more to compare with random" in one


def test_json_summary_carries_the_verdict(tmp_path):
    run = make_run(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(run), "--no-plots", "--format", "json"])
    assert result.exit_code == 0, result.output
    records = {(r["selector"], r["ratio_target"]): r for r in json.loads(result.stdout)["summary"]}
    assert records[("meddel", 0.2)]["verdict"] == "above"
    assert records[("random", 0.2)]["verdict"] is None and records[("full", 1.0)]["verdict"] is None
