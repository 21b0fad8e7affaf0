"""Rebuild the committed leaderboard from the committed run tarballs.

``leaderboard/runs/`` is the table's manifest: one folder per run of the table (its
``config.yaml``, ``summary.json``, ``status.json``). Its numbers come from the summaries
alone, but the HTML's learning curves and mastery heatmaps need each run's ``eval/``
tables, which only the tarballs the machines sent back hold (:data:`SOURCES`). This script
puts the two together with the leaderboard's own code, as ``make_baseline.sh`` does from a
fresh ``runs/`` folder:

1. every manifest run is taken from the tarball whose copy has the manifest's
   ``summary.json`` (a run made twice, e.g. a rerun with the same name, is the copy the
   table was made from), without episode tables, checkpoints or models, into ``--work``;
2. ``teachbench-leaderboard <work> --out leaderboard --screenshot leaderboard/leaderboard.png``;
3. ``python -m experiments.reporting.lite <work> --out leaderboard/lite.csv``.

A manifest run found in no tarball stops the script (a table silently missing seeds is
worse than none). ``--supersede TARBALL --teachers a,b`` first replaces the manifest's
runs of those teachers by the tarball's runs of the same experiment, env and student (the
rows rerun after a fix: ``experiments/results/teacher_audit_reruns/``), and adds the
tarball to the sources for that call; add it to :data:`SOURCES` when committing it.

    python leaderboard/rebuild.py                       # rebuild from the manifest as it is
    python leaderboard/rebuild.py --supersede experiments/results/teacher_audit_reruns/runs.tar.gz \\
        --supersede experiments/results/teacher_audit_reruns/runs_lite.tar.gz --teachers adr,spdl,covar_gmm,setter_solver
    python leaderboard/rebuild.py --supersede experiments/results/goal_gan_audit/runs.tar.gz \
        --supersede experiments/results/goal_gan_audit/runs_rl.tar.gz \
        --supersede experiments/results/goal_gan_audit/runs_lite.tar.gz --teachers goal_gan   # session 10
    python leaderboard/rebuild.py --supersede experiments/results/clutr_audit/runs.tar.gz --teachers clutr
    python leaderboard/rebuild.py --add experiments/results/minimax_gridworld/runs.tar.gz --teachers minimax
    python leaderboard/rebuild.py --supersede experiments/results/hexagon_reruns/runs.tar.gz --teachers covar_gmm,riac   # session 11
    python leaderboard/rebuild.py --supersede experiments/results/lite_tier/webform_lite_30k.tar.gz \
        --teachers accel,adr,alp_gmm,clutr_param,covar_gmm,goal_gan,paired_param,plr,plr_robust,qweb_curriculum,\
qweb_instructor,random,riac,setter_solver,spdl,webrl   # session 15: the lite web forms at 30k steps
    W=experiments/results/walker_stumps_alpgmm_vs_random
    python leaderboard/rebuild.py --add $W/claim2_2.5M_runs.tar.gz --add $W/claim2_2.5M_s5-7_runs.tar.gz \
        --add $W/claim2_2.5M_s8-10_runs.tar.gz --add experiments/results/walker_stumps_teachers/runs.tar.gz \
        --teachers alp_gmm,random,riac,covar_gmm,goal_gan,adr --section walker_stumps_alpgmm_vs_random   # session 16
    python leaderboard/rebuild.py --add experiments/results/walker_baseline/runs.tar.gz \
        --teachers random,alp_gmm,covar_gmm,riac,adr,spdl --section baseline   # session 17: the walker's baseline rows
    python leaderboard/rebuild.py --supersede experiments/results/walker_baseline_tma/runs.tar.gz \
        --teachers random,alp_gmm,covar_gmm,riac,adr,spdl   # session 19: the same six with TMA's network
    P=experiments/results/walker_profile_tma   # session 21: two challenges of TMA's profile chart
    python leaderboard/rebuild.py --add $P/pu_runs.tar.gz --teachers random,alp_gmm --section tma_unfeasible_ek-no
    python leaderboard/rebuild.py --add $P/pt_runs.tar.gz --teachers random,alp_gmm --section tma_trivial_ek-no
    python leaderboard/rebuild.py --add experiments/results/walker_baseline_tma/runs.tar.gz \
        --teachers goal_gan,setter_solver,plr --section baseline   # session 22: three more walker baseline rows
    python leaderboard/rebuild.py --supersede $P/pu_runs.tar.gz --supersede $P/pt_runs.tar.gz --teachers alp_gmm   # session 22: seeds 4-7
    python leaderboard/rebuild.py --add experiments/results/walker_baseline_tma/runs.tar.gz \
        --teachers plr_robust,accel,clutr_param --section baseline   # session 23; session 24: --teachers paired_param
    python leaderboard/rebuild.py --add experiments/results/lite_tier/walker_lite_2m.tar.gz \
        --teachers random,alp_gmm,covar_gmm,riac,adr,goal_gan,spdl,plr,plr_robust,accel --section lite   # session 25
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
from pathlib import Path, PurePosixPath
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "leaderboard" / "runs"
SLIM = ("config.yaml", "summary.json", "status.json")
SKIP = ("episodes", "checkpoints", "model.zip", "vecnormalize.pkl")
RESULTS = ROOT / "experiments" / "results"
# every tarball that holds runs of the committed table (leaderboard/README.md's calls), in the
# order they were made; the fixed-code reruns of session 9/10 last
SOURCES = [
    RESULTS / "leaderboard_2026-11-30" / name for name in (
        "call1_track.tar.gz", "call2_gridworld.tar.gz", "call3_litegrid.tar.gz", "call3_web_partial.tar.gz",
        "call4_litegrid_rest.tar.gz", "local_web.tar.gz", "s6_local_web.tar.gz", "s6call1_liteweb.tar.gz",
        "s7_local_liteweb.tar.gz", "s7_tma_rows.tar.gz")
] + [
    RESULTS / "lite_tier" / "gridworld_lite_180k.tar.gz",
    RESULTS / "lite_tier" / "gridworld_lite_180k_paired_s1s2.tar.gz",
    RESULTS / "teacher_audit_reruns" / "runs.tar.gz",
    RESULTS / "teacher_audit_reruns" / "runs_lite.tar.gz",
    RESULTS / "goal_gan_audit" / "runs.tar.gz",
    RESULTS / "goal_gan_audit" / "runs_rl.tar.gz",
    RESULTS / "goal_gan_audit" / "runs_lite.tar.gz",
    RESULTS / "clutr_audit" / "runs.tar.gz",
    RESULTS / "minimax_gridworld" / "runs.tar.gz",
    RESULTS / "hexagon_reruns" / "runs.tar.gz",
    RESULTS / "lite_tier" / "webform_lite_30k.tar.gz",
] + [
    RESULTS / "walker_stumps_alpgmm_vs_random" / name
    for name in ("claim2_2.5M_runs.tar.gz", "claim2_2.5M_s5-7_runs.tar.gz", "claim2_2.5M_s8-10_runs.tar.gz")
] + [
    RESULTS / "walker_stumps_teachers" / "runs.tar.gz",
    RESULTS / "walker_baseline" / "runs.tar.gz",
    RESULTS / "walker_baseline_tma" / "runs.tar.gz",
    RESULTS / "walker_profile_tma" / "pu_runs.tar.gz",
    RESULTS / "walker_profile_tma" / "pt_runs.tar.gz",
    RESULTS / "lite_tier" / "walker_lite_2m.tar.gz",
]


def _key(name: str) -> tuple[str, str, str] | None:
    """(experiment, run folder, file path inside the run) of a tarball member, or None."""
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "")]
    return (parts[0], parts[1], "/".join(parts[2:])) if len(parts) >= 3 else None


def manifest_runs(manifest: Path = MANIFEST) -> dict[tuple[str, str], dict]:
    """(experiment, run folder) -> its committed summary."""
    return {(p.parent.parent.name, p.parent.name): json.loads(p.read_text())
            for p in sorted(manifest.glob("*/*/summary.json"))}


def _identity(summary: dict) -> tuple:
    return tuple(summary.get(k) for k in ("experiment", "env", "student", "teacher", "seed"))


def supersede(tarball: Path | Sequence[Path], teachers: set[str], manifest: Path = MANIFEST, add: bool = False,
              section: str | None = None) -> list[str]:
    """Replace the manifest's rows (experiment, env, student, teacher: every seed) of
    ``teachers`` by ``tarball``'s runs of the same rows (slim copies). Rows the table does not
    have are added only with ``add`` (a teacher's first rows, on envs the table already has:
    ``--add``), and with ``add`` and ``section`` also the rows of that experiment, which the
    table does not have yet (a new section: ``--add ... --section NAME``). Returns what
    changed, one ``- run`` / ``+ run`` line each. Several tarballs in one call pool their runs:
    a row's seeds may come from several (claim 2's walker seeds sit in three); a seed of a row in
    more than one is taken from the last (as when the tarballs were given one call each)."""
    new: dict[tuple[str, str], dict[str, bytes]] = {}
    for path in [tarball] if isinstance(tarball, Path) else list(tarball):
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                key = _key(member.name)
                if key and member.isfile() and key[2] in SLIM:
                    new.setdefault(key[:2], {})[key[2]] = tar.extractfile(member).read()  # type: ignore[union-attr]
    ident = {run: _identity(json.loads(files["summary.json"])) for run, files in new.items() if "summary.json" in files}
    latest = {identity: run for run, identity in ident.items()}  # a seed in several tarballs: the last one's run
    rows = {_identity(s)[:4] for s in manifest_runs(manifest).values()}
    envs = {row[:3] for row in rows}  # (experiment, env, student) the table has

    def wanted(identity: tuple) -> bool:
        return identity[3] in teachers and (identity[:4] in rows or add and identity[:3] in envs
                                            or add and section is not None and identity[0] == section)

    fresh = {run: new[run] for run, identity in ident.items() if latest[identity] == run and wanted(identity)}
    replaced = {ident[run][:4] for run in fresh}
    changed = []
    for (experiment, run), summary in manifest_runs(manifest).items():
        if _identity(summary)[:4] in replaced:
            shutil.rmtree(manifest / experiment / run)
            changed.append(f"- {experiment}/{run}")
    for (experiment, run), files in sorted(fresh.items()):
        folder = manifest / experiment / run
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        changed.append(f"+ {experiment}/{run}")
    return changed


def assemble(work: Path, sources: list[Path], manifest: Path = MANIFEST) -> int:
    """Extract every manifest run from the tarball whose summary matches, into ``work``."""
    want = manifest_runs(manifest)
    chosen: dict[tuple[str, str], Path] = {}
    for tarball in sources:
        if not tarball.is_file():
            continue
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                key = _key(member.name)
                if key and key[2] == "summary.json" and key[:2] in want and key[:2] not in chosen:
                    if json.loads(tar.extractfile(member).read()) == want[key[:2]]:  # type: ignore[union-attr]
                        chosen[key[:2]] = tarball
    missing = sorted(set(want) - set(chosen))
    if missing:
        raise SystemExit(f"{len(missing)} manifest runs in no tarball, e.g. {missing[:3]}")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for tarball in sorted(set(chosen.values()), key=sources.index):
        with tarfile.open(tarball) as tar:
            members = []
            for member in tar.getmembers():
                key = _key(member.name)
                if key and chosen.get(key[:2]) == tarball and not key[2].split("/")[0] in SKIP \
                        and (member.isfile() or member.isdir()):
                    member.name = "/".join(key)
                    members.append(member)
            tar.extractall(work, members=members, filter="data")
    return len(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python leaderboard/rebuild.py", description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/teachbench-leaderboard-runs", help="folder for the assembled runs")
    parser.add_argument("--out", default="leaderboard", help="the table's folder (relative to the repository)")
    parser.add_argument("--supersede", type=Path, action="append", default=[],
                        help="a tarball of reruns that replace manifest runs (repeatable)")
    parser.add_argument("--add", type=Path, action="append", default=[],
                        help="a tarball of runs of --teachers to add as new rows, or replace existing ones (repeatable)")
    parser.add_argument("--teachers", default="", help="comma-separated teachers --supersede / --add take")
    parser.add_argument("--section", default=None,
                        help="with --add: also take the rows of this experiment, a section the table does not have yet")
    parser.add_argument("--no-screenshot", action="store_true")
    args = parser.parse_args(argv)
    sources = list(SOURCES)
    teachers = {t for t in args.teachers.split(",") if t}
    if (args.supersede or args.add) and not teachers:
        parser.error("--supersede and --add need --teachers")
    for tarballs, add in ((args.supersede, False), (args.add, True)):
        if tarballs:  # each kind in one call: the tarballs' runs of a row are pooled, not one replacing another
            print("\n".join(supersede(tarballs, teachers, add=add, section=args.section if add else None)))
        for tarball in tarballs:
            if tarball.resolve() not in [s.resolve() for s in sources]:
                sources.append(tarball)
    work = Path(args.work)
    print(f"assembled {assemble(work, sources)} runs in {work}", file=sys.stderr)

    import os

    from experiments.reporting import cli, lite

    os.chdir(ROOT)  # the rows' commands name the configs relative to the repository root
    out = Path(args.out)
    for stale in (out / "configs").glob("*.yaml"):  # the configs of rows no longer in the table
        stale.unlink()
    argv_board = [str(work), "--out", str(out), "--title", "TeachBench baseline leaderboard"]
    if not args.no_screenshot:
        argv_board += ["--screenshot", str(out / "leaderboard.png")]
    code = cli.main(argv_board)
    return code or lite.main([str(work), "--out", str(out / "lite.csv")])


if __name__ == "__main__":
    raise SystemExit(main())
