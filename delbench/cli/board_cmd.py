from __future__ import annotations

from pathlib import Path

import click


@click.command("board")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Directory for leaderboard.md, leaderboard.csv and leaderboard.html.")
def board(runs: tuple[Path, ...], out: Path) -> None:
    """A leaderboard from RUNS (run directories, from any machines) of one protocol.

    Runs merge when their protocol hash, data manifest and shared selectors' parameters match; anything
    else is refused, naming what differs. A unit present in several runs is kept once; when its scores
    differ, the first run's is kept and the difference is listed. Per retained ratio, selectors are
    ranked by NormDEL (mean rank over tasks), with win/tie/loss against random paired by seed.
    """
    from delbench.report.board import check_one_study, merge, merged_info, read_run
    from delbench.report.leaderboard import console_lines, leaderboard, write_board

    from delbench.errors import DelbenchError

    if out.exists() and not out.is_dir():
        raise DelbenchError(f"--out {out}: exists and is not a directory")
    loaded = [read_run(path) for path in dict.fromkeys(runs)]
    check_one_study(loaded)
    results, conflicts = merge(loaded)
    table = leaderboard(results)
    meta = merged_info(loaded)
    written = write_board(table, results, meta, conflicts, out)
    proto = meta["protocol"]
    click.echo(f"Leaderboard: {proto.get('name', '?')} v{proto.get('version', '?')}, {len(loaded)} run(s), "
               f"{results['seed'].nunique()} seed(s); NormDEL x100")
    for line in console_lines(table):
        click.echo(line)
    if conflicts:
        click.echo(f"\n{len(conflicts)} unit(s) differ between runs: the first run's rows are used; "
                   "listed in leaderboard.md", err=True)
    click.echo("")
    for path in written:
        click.echo(f"wrote {path}")
