"""``teachbench-leaderboard``: a folder of run directories -> the terminal table and the
report files (markdown, CSV, HTML with plots, optionally a PNG screenshot).

The command line of the results side. It sits on top of :mod:`.leaderboard` (the numbers)
and :mod:`.report` (the files), so that neither of them imports the other's caller: the
leaderboard module used to hold this entry point and import the report, which imports the
leaderboard (a circle). Bad arguments are one line naming the argument and exit 2
(:mod:`experiments.console`, the one error format of every console script).

    teachbench-leaderboard runs/quickstart            # terminal table + files in runs/quickstart/_leaderboard
    teachbench-leaderboard runs/quickstart --out lb --screenshot lb/leaderboard.png
"""

from __future__ import annotations

from pathlib import Path

from envs.errors import TeachBenchError
from experiments.console import one_line_parser, report_errors
from experiments.reporting.leaderboard import BOOTSTRAP_REPS, print_leaderboard
from experiments.reporting.report import screenshot, write_report
from experiments.reporting.runs import collect_runs


def main(argv: list[str] | None = None) -> int:
    """Console script ``teachbench-leaderboard``; bad arguments are one line and exit 2
    (:mod:`experiments.console`)."""
    return report_errors("teachbench-leaderboard", lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    parser = one_line_parser("teachbench-leaderboard", description="The leaderboard of a folder of TeachBench runs.")
    parser.add_argument("runs_dir", help="a folder of run directories (searched recursively)")
    parser.add_argument("--out", help="folder for leaderboard.md/.csv/.html (default: RUNS_DIR/_leaderboard)")
    parser.add_argument("--no-files", action="store_true", help="print the terminal table only")
    parser.add_argument("--no-plots", action="store_true", help="HTML without plots (faster)")
    parser.add_argument("--screenshot", metavar="PNG", help="also render the HTML page to this PNG (chromium)")
    parser.add_argument("--reps", type=int, default=BOOTSTRAP_REPS,
                        help=f"bootstrap replications (default {BOOTSTRAP_REPS:,}, rliable's)")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    if not Path(args.runs_dir).is_dir():
        raise TeachBenchError("runs_dir", f"{args.runs_dir} is not a folder")
    if args.reps < 1:
        raise TeachBenchError("--reps", f"must be >= 1, got {args.reps}")
    runs = collect_runs(args.runs_dir)
    if runs.empty:
        print(f"no runs under {args.runs_dir}")
        return 1
    title = args.title or f"TeachBench leaderboard: {args.runs_dir}"
    table = print_leaderboard(runs, title=title, reps=args.reps)
    if args.no_files:
        return 0
    if table.empty:
        print("no readable run to tabulate: no files written")
        return 1
    out = Path(args.out) if args.out else Path(args.runs_dir) / "_leaderboard"
    paths = write_report(runs, out, title=title, plots=not args.no_plots, reps=args.reps)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    if args.screenshot:
        print(f"screenshot: {screenshot(paths['html'], args.screenshot)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
