"""``delbench agree RUN_A RUN_B``: does protocol A's ranking of selectors predict protocol B's? The
statistics are ``delbench.score.agree``'s; this module reads the two run directories, prints the
result and records it as ``RUN_A/agree/<label of B>.json``, which ``delbench report RUN_A`` shows."""
from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import click

FORMATS = ("text", "json", "md")


def _results(run_dir: Path) -> Any:
    from delbench.compare.results import read_results
    from delbench.errors import DelbenchError

    try:
        return read_results(run_dir)
    except (OSError, ValueError) as exc:  # a damaged parquet file: one line, not pyarrow's traceback
        raise DelbenchError(f"{run_dir}: results.parquet is not readable ({str(exc).splitlines()[0]}); "
                            "rerun `delbench compare` into it") from None


def _run(run_dir: Path) -> dict[str, Any]:
    """What the record says of a run: where it is and its protocol (from run.json; "?" where it says nothing)."""
    from delbench.store.rundir import RunDir

    try:
        info = RunDir(run_dir).read_info()
        proto = info.get("protocol") or {}
        proto = proto if isinstance(proto, dict) else {}
    except (OSError, ValueError, AttributeError):
        info, proto = {}, {}  # the results decide; a missing run.json only leaves the names unknown
    return {"path": str(run_dir.resolve()), "name": run_dir.resolve().name,
            "protocol": {"name": str(proto.get("name", "?")), "version": str(proto.get("version", "?"))},
            "protocol_hash": str(info.get("protocol_hash", "?"))}


def label(run: dict[str, Any]) -> str:
    """``<protocol>-<run directory name>`` as a file name: nothing but letters, digits, ``.``, ``_``, ``-``."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{run['protocol']['name']}-{run['name']}").strip("._-")
    return text[:120] or "run"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(interval: dict[str, Any] | None) -> str:
    if not interval or interval.get("low") is None:
        return "–"
    return f"[{interval['low']:.3f}, {interval['high']:.3f}]"


def _rows(record: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    boot = record.get("bootstrap") or {}
    return [
        ("decision accuracy", _num(record["accuracy"]), _ci(boot.get("accuracy")), str(record["pairs"])),
        ("within-ratio accuracy", _num(record["accuracy_within"]), _ci(boot.get("accuracy_within")),
         str(record["pairs_within"])),
        ("Kendall tau-b", _num(record["tau"]), _ci(boot.get("tau")), f"{len(record['cells'])} cells"),
    ]


def _heading(record: dict[str, Any]) -> list[str]:
    lines = []
    for key, side in (("run_a", "A"), ("run_b", "B")):
        run = record[key]
        seeds = record[f"seeds_{side.lower()}"]
        budget = run.get("budget", 1.0)
        lines.append(f"{side}: {run['protocol']['name']} v{run['protocol']['version']}  {run['path']}  "
                     + (f"budget {budget:g}  " if budget != 1.0 else "")
                     + f"({len(seeds)} seed(s): {', '.join(str(s) for s in seeds)})")
    boot = record.get("bootstrap")
    lines.append(f"metric {record['metric']}; {len(record['cells'])} shared cells (full and scratch left out); "
                 + (f"95% percentile intervals from {boot['resamples']} bootstrap resamples of each run's seeds "
                    f"(seed {boot['seed']})" if boot else "no bootstrap"))
    return lines


def _dropped(record: dict[str, Any]) -> list[str]:
    boot = record.get("bootstrap") or {}
    return [f"{name}: {boot[name]['dropped']} of {boot['resamples']} resamples undefined, left out"
            for name in ("accuracy", "accuracy_within", "tau") if boot and boot[name]["dropped"]]


def _print_text(record: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for line in _heading(record):
        console.print(line, highlight=False, soft_wrap=True)
    a, b = record["run_a"]["protocol"]["name"], record["run_b"]["protocol"]["name"]
    cells = Table(title=f"{record['metric']} x100, mean over seeds")
    for col in ("selector", "R", f"A ({a})", f"B ({b})"):
        cells.add_column(col, justify="left" if col == "selector" else "right")
    for c in record["cells"]:
        cells.add_row(c["selector"], f"{c['ratio_target']:g}", f"{100 * c['score_a']:.2f}", f"{100 * c['score_b']:.2f}")
    console.print(cells)
    summary = Table(title="Does A's ranking predict B's?")
    for col in ("statistic", "value", "95% interval", "pairs"):
        summary.add_column(col, justify="left" if col == "statistic" else "right")
    for row in _rows(record):
        summary.add_row(*row)
    console.print(summary)
    for line in _dropped(record):
        console.print(line, highlight=False)


def _markdown(record: dict[str, Any]) -> str:
    out = [f"- {line}" for line in _heading(record)] + [""]
    out += ["| selector | R | A | B |", "|---|---:|---:|---:|"]
    out += [f"| {c['selector']} | {c['ratio_target']:g} | {100 * c['score_a']:.2f} | {100 * c['score_b']:.2f} |"
            for c in record["cells"]]
    out += ["", "| statistic | value | 95% interval | pairs |", "|---|---:|---:|---:|"]
    out += [f"| {' | '.join(row)} |" for row in _rows(record)]
    out += [f"- {line}" for line in _dropped(record)]
    return "\n".join(out) + "\n"


@click.command("agree")
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--metric", default="miou", show_default=True, help="Score compared per cell: miou or normdel.")
@click.option("--bootstrap", "resamples", type=int, default=1000, show_default=True,
              help="Bootstrap resamples of each run's seeds for the 95% intervals (0: none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap's draws.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: tables for a terminal; json, md: for scripts, on stdout.")
@click.option("--budget-a", type=float, help="Pre-training budget of RUN_A's rows (compare --budgets; default: "
              "its only one, or 1).")
@click.option("--budget-b", type=float, help="Pre-training budget of RUN_B's rows (RUN_B may be RUN_A at another budget).")
def agree(run_a: Path, run_b: Path, metric: str, resamples: int, seed: int, fmt: str,
          budget_a: float | None, budget_b: float | None) -> None:
    """How well RUN_A's ranking of selectors predicts RUN_B's (decision accuracy, Kendall tau).

    Compares the (selector, ratio) cells both runs hold, full and scratch left out; writes the result
    to RUN_A/agree/<protocol of B>-<name of RUN_B>.json, shown by `delbench report RUN_A`.
    """
    from delbench import __version__
    from delbench.score.agree import AGREE_DIR, agreement, one_budget
    from delbench.score.budgets import suffix
    from delbench.store.atomic import write_json
    from delbench.store.rundir import own

    with own(run_a) if run_a.is_dir() else contextlib.nullcontext():  # not while a compare writes RUN_A
        rows_a, budget_a = one_budget(_results(run_a), budget_a, str(run_a))
        rows_b, budget_b = one_budget(_results(run_b), budget_b, str(run_b))
        result = agreement(rows_a, rows_b, metric=metric, bootstrap=resamples, seed=seed,
                           names=(str(run_a), str(run_b)))
        record = {"run_a": {**_run(run_a), "budget": budget_a}, "run_b": {**_run(run_b), "budget": budget_b},
                  "delbench": __version__, **result.to_dict()}
        # RUN_A's own budget too, so that A at 0.25 against B and A at 1 against B are two records
        ahead = "" if budget_a == 1.0 else f"b{budget_a:g}-vs-"
        record["run_b"]["label"] = ahead + label(record["run_b"]) + suffix(budget_b)
        path = run_a / AGREE_DIR / f"{record['run_b']['label']}.json"
        write_json(path, record)
    if fmt == "text":
        _print_text(record)
        click.echo(f"wrote {path}; `delbench report {run_a}` adds it to report.html")
        return
    click.echo(json.dumps(record, indent=2, sort_keys=True) + "\n" if fmt == "json" else _markdown(record), nl=False)
    click.echo(f"wrote {path}", err=True)
