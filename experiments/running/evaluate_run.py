"""``teachbench-eval``: play a finished run's policy on any set of levels.

    teachbench-eval RUN_DIR                          # the env's test set
    teachbench-eval RUN_DIR levels=held_out          # the env's named held-out levels
    teachbench-eval RUN_DIR levels=mazes.txt episodes=3 --video mazes.gif
    teachbench-eval RUN_DIR levels=held_out episodes=100 checkpoint=latest   # an interrupted run, dcd's 100 episodes

``levels`` is ``test`` (the env's test set, what training evaluated), ``held_out`` (the
env's named held-out tasks/levels), ``all`` (both), or a text file of ASCII mazes for the
gridworld: ``#`` wall, ``.`` empty, ``A`` the agent (facing east; ``> v < ^`` give
another heading), ``G`` the goal; a square picture with its border, several mazes
separated by blank lines (:meth:`envs.gridworld.level.Level.from_ascii` parses each).

Protocols: the test set and ASCII mazes are played greedily, ``episodes`` each (default 1),
as training evaluates. The held-out levels are played as the run's own final evaluation
plays them (``students.evaluate.evaluate_held_out`` with the env's protocol, e.g. dcd's 10
stochastic episodes per maze, or the run config's ``eval.held_out_*``); ``episodes=`` and
``deterministic=`` override either. ``checkpoint=latest`` evaluates a run that has not
finished (interrupted at a session's end, say) at its latest checkpoint, so a long run's
held-out rate can be read between its sessions.

The policy is ``RUN_DIR/model.zip``, the final policy a run saves when it finishes (with
``RUN_DIR/vecnormalize.json`` beside it when the env normalises observations). A run
written before runs kept their final policy has only its rolling checkpoint; then the
latest ``checkpoints/step-*/model.zip`` is played, which is the policy of the last
checkpoint (up to ``checkpoint.every`` steps before the end), and the table says so.
Both are loaded without unpickling (:func:`students.build.load_student`).

Episodes are played with the deterministic policy, as the training evaluation plays them
(:func:`students.evaluate.evaluate`). The table is printed and the records are written to
a new folder ``RUN_DIR/evaluations/<time>-<levels>/`` (``records.parquet``, one row per
episode, and ``meta.json``); the run's own tables are never touched. ``--video`` records
one episode of each of the first ``--video-levels`` levels into one GIF (or MP4).
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the gymnasium ids)
from envs.errors import TeachBenchError
from experiments.console import one_line_parser, report_errors
from experiments.running.config_checks import env_normalize
from experiments.rundir import RunDir, write_json

LEVEL_SETS = ("test", "held_out", "all")
FINAL_POLICY = "model.zip"


@dataclass
class Policy:
    """Where the played policy comes from."""

    model_path: Path
    normalizer: Mapping[str, Any] | None
    source: str  # "final" or "checkpoint step-<n>"


@dataclass
class LevelSet:
    """Named tasks to play (a task dict, or ``{"level": <level string>}``)."""

    label: str
    names: list[str]
    tasks: list[dict[str, Any]]


# -- the run ----------------------------------------------------------------------------------
def open_run(path: str | Path, unfinished: bool = False) -> tuple[RunDir, DictConfig]:
    """The finished run at ``path`` and its config (read without running code);
    ``unfinished``: an interrupted or running run too (its latest checkpoint is played)."""
    from experiments.safe_config import load_run_config

    rd = RunDir(path)
    if not rd.path.is_dir():
        raise TeachBenchError("run_dir", f"{rd.path} is not a directory")
    if not rd.config_path.exists():
        raise TeachBenchError("run_dir", f"{rd.path} is not a run directory (no config.yaml)")
    if not rd.finished and not unfinished:
        state = rd.status().get("state", "unknown")
        raise TeachBenchError("run_dir", f"{rd.path} has not finished (state {state!r}); evaluate it once summary.json "
                              "exists (rerun the same command to continue it), or its latest checkpoint with "
                              "checkpoint=latest")
    return rd, load_run_config(rd.path)


def find_policy(rd: RunDir) -> Policy:
    """The final policy, else the latest checkpoint's."""
    final = rd.path / FINAL_POLICY
    if final.exists():
        # the final policy's VecNormalize statistics: vecnormalize.json (experiments.running.run)
        return Policy(final, None, "final")
    pointer = rd.checkpoint_dir / "latest.json"
    if pointer.exists():
        try:
            name = str(json.loads(pointer.read_text())["dir"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise TeachBenchError("run_dir", f"{pointer} is not a checkpoint pointer") from None
        target = rd.checkpoint_dir / name
        if re.fullmatch(r"step-\d+", name) and (target / "model.zip").exists():
            state = _load_tensors(target / "state.pt") if (target / "state.pt").exists() else {}
            return Policy(target / "model.zip", state.get("normalizer"), f"checkpoint {target.name}")
    raise TeachBenchError("run_dir", f"{rd.path} holds no policy ({FINAL_POLICY} or a checkpoint)")


def _load_tensors(path: Path) -> dict[str, Any]:
    try:
        data = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a refused or torn file is bad input, named as such
        raise TeachBenchError("run_dir", f"{path} cannot be loaded safely ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise TeachBenchError("run_dir", f"{path} does not hold a mapping")
    return data


def load_policy(cfg: DictConfig, policy: Policy, device: str = "cpu") -> tuple[Any, Any]:
    """The student (rebuilt from the run's config, then its weights loaded) and the
    observation normaliser (a VecNormalize with the run's statistics) or None."""
    from experiments.running.run import _load_normalizer
    from students.build import load_student, make_student
    from students.vec import make_vec_env

    env_kwargs = _env_kwargs(cfg)
    student = OmegaConf.to_container(cfg.student.params, resolve=True) if cfg.student.get("params") else {}
    env_students = OmegaConf.to_container(cfg.env.students, resolve=True) if cfg.env.get("students") else {}
    normalize = env_normalize(cfg.env)
    vec = make_vec_env(str(cfg.env.name), env_kwargs, int(cfg.env.n_envs), "dummy", seed=int(cfg.seed), normalize=normalize)
    fresh = make_student(str(cfg.student.algo), vec, policy=cfg.student.get("policy"), params=student,  # type: ignore[arg-type]
                         env_defaults=env_students, seed=int(cfg.seed), device=device)  # type: ignore[arg-type]
    model = load_student(str(policy.model_path), fresh, vec, device=device)
    if normalize and policy.source == "final":
        from experiments.running.run import final_normalizer

        frozen = final_normalizer(policy.model_path.parent, vec.venv)
        if frozen is None:
            raise TeachBenchError("run_dir", f"the run normalises observations but {policy.model_path.parent} has no "
                                  "vecnormalize.json")
        return model, frozen
    if normalize:
        if policy.normalizer is None:
            raise TeachBenchError("run_dir", f"the run normalises observations but {policy.model_path.parent} has no "
                                  "normaliser statistics")
        _load_normalizer(vec, policy.normalizer)
        vec.training = False
        return model, vec
    return model, None


def _env_kwargs(cfg: DictConfig) -> dict[str, Any]:
    return dict(OmegaConf.to_container(cfg.env.kwargs, resolve=True)) if cfg.env.get("kwargs") else {}  # type: ignore[arg-type]


# -- the levels -------------------------------------------------------------------------------
def read_ascii_mazes(path: Path) -> list[Any]:
    """The mazes of an ASCII file, in order (blank lines separate mazes)."""
    from envs.gridworld.level import Level

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TeachBenchError("levels", f"cannot read {path}: {exc}") from None
    blocks = [b for b in re.split(r"\n[ \t]*\n", text.strip("\n")) if b.strip()]
    if not blocks:
        raise TeachBenchError("levels", f"{path} holds no maze")
    mazes = []
    for i, block in enumerate(blocks):
        try:
            mazes.append(Level.from_ascii(block))
        except TeachBenchError as exc:
            raise TeachBenchError("levels", f"{path}: maze {i + 1}: {exc}") from None
    return mazes


def level_set(cfg: DictConfig, levels: str) -> LevelSet:
    """The named tasks of ``levels``: a set name or an ASCII maze file."""
    from envs.registry import make_env

    env = make_env(str(cfg.env.name), **_env_kwargs(cfg)).unwrapped
    try:
        if levels in LEVEL_SETS:
            names: list[str] = []
            tasks: list[dict[str, Any]] = []
            if levels in ("test", "all"):
                test = list(env.test_tasks())
                names += [f"test_{i}" for i in range(len(test))]
                tasks += [dict(t) for t in test]
            if levels in ("held_out", "all"):
                held = dict(env.held_out())
                names += list(held)
                tasks += [dict(t) if isinstance(t, Mapping) else {"level": t} for t in held.values()]
            if not tasks:
                raise TeachBenchError("levels", f"env {cfg.env.name!r} has no {levels!r} levels", LEVEL_SETS)
            return LevelSet(levels, names, tasks)
        path = Path(levels)
        if not path.is_file():
            raise TeachBenchError("levels", f"{levels!r} is neither a level set nor a file", [*LEVEL_SETS, "<mazes.txt>"])
        if not callable(getattr(env, "level_for", None)):
            raise TeachBenchError("levels", f"ASCII mazes need a gridworld run; this run's env is {cfg.env.name!r}",
                                  LEVEL_SETS)
        mazes = read_ascii_mazes(path)
        tasks = []
        for i, maze in enumerate(mazes):
            task = {"level": maze.to_string()}
            try:
                env.reset(seed=0, options=task)  # the env's own checks: size within max_size, ...
            except TeachBenchError as exc:
                raise TeachBenchError("levels", f"{path}: maze {i + 1} does not fit env {cfg.env.name!r}: {exc}") from None
            tasks.append(task)
        return LevelSet(path.stem, [f"{path.stem}_{i + 1}" for i in range(len(mazes))], tasks)
    finally:
        env.close()


# -- playing ----------------------------------------------------------------------------------
def evaluate_levels(model: Any, normalizer: Any, cfg: DictConfig, levels: LevelSet, episodes: int,
                    seed: int, deterministic: bool = True) -> pd.DataFrame:
    """One row per episode: level name, task, return, length, success, mastered."""
    from students.evaluate import evaluate

    records = evaluate(model, str(cfg.env.name), levels.tasks, _env_kwargs(cfg), episodes, _eval_envs(cfg),
                       deterministic=deterministic, normalizer=normalizer, seed=seed)
    rows = []
    count: dict[int, int] = {}
    for r in records:
        episode = count.get(r.task_index, 0)
        count[r.task_index] = episode + 1
        row = {"name": levels.names[r.task_index], "task_index": r.task_index, "episode": episode,
               "return": r.episode_return, "length": r.length, "success": r.success, "mastered": r.mastered}
        task = levels.tasks[r.task_index]
        row.update({f"task.{k}": v for k, v in task.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def held_out_part(cfg: DictConfig, episodes: int | None,
                  deterministic: bool | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's held-out levels as its final evaluation plays them (every variant of a
    procedural maze) and that evaluation's protocol: the env's, or the run config's
    ``eval.held_out_*``, with the command line's ``episodes`` / ``deterministic`` on top."""
    from envs.registry import make_env
    from students.evaluate import held_out_levels, held_out_protocol

    ev = cfg.get("eval") or {}
    env = make_env(str(cfg.env.name), **_env_kwargs(cfg)).unwrapped
    try:
        protocol = held_out_protocol(env, ev.get("held_out_episodes") if episodes is None else episodes,
                                     ev.get("held_out_deterministic") if deterministic is None else deterministic)
        return held_out_levels(env), protocol
    finally:
        env.close()


def evaluate_held_out_levels(model: Any, normalizer: Any, cfg: DictConfig, held: Mapping[str, Any],
                             protocol: Mapping[str, Any], seed: int) -> pd.DataFrame:
    """``held`` played by ``protocol`` (:func:`students.evaluate.evaluate_held_out`, the
    function of the run's own final evaluation); one row per episode."""
    from students.evaluate import evaluate_held_out

    result = evaluate_held_out(model, str(cfg.env.name), held, _env_kwargs(cfg), int(protocol["episodes"]),
                               bool(protocol["deterministic"]), _eval_envs(cfg), normalizer=normalizer, seed=seed)
    names = list(held)
    count: dict[str, int] = {}
    rows = []
    for name, r in result.records:
        episode = count.get(name, 0)
        count[name] = episode + 1
        rows.append({"name": name, "task_index": names.index(name), "episode": episode, "return": r.episode_return,
                     "length": r.length, "success": r.success, "mastered": r.mastered})
    return pd.DataFrame(rows)


def _eval_envs(cfg: DictConfig) -> int:
    return int(cfg.eval.get("n_envs", 8)) if cfg.get("eval") else 8


def summary_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per level: episodes, mean return, success and mastered rates; then all levels."""
    per = records.groupby("name", sort=False).agg(episodes=("episode", "size"), mean_return=("return", "mean"),
                                                   success=("success", "mean"), mastered=("mastered", "mean"),
                                                   mean_length=("length", "mean"))
    total = pd.DataFrame({"episodes": [len(records)], "mean_return": [records["return"].mean()],
                          "success": [records["success"].mean()], "mastered": [records["mastered"].mean()],
                          "mean_length": [records["length"].mean()]}, index=["ALL"])
    return pd.concat([per, total])


def record_video(model: Any, normalizer: Any, cfg: DictConfig, levels: LevelSet, path: Path, max_levels: int,
                 seed: int) -> Path:
    """One deterministic episode on each of the first ``max_levels`` levels, in one video."""
    from sb3_contrib import MaskablePPO

    from envs.registry import make_env
    from envs.walker.video import record_episode, write_video

    frames: list[np.ndarray] = []
    env = make_env(str(cfg.env.name), render_mode="rgb_array", **_env_kwargs(cfg))
    try:
        masked = isinstance(model, MaskablePPO)

        def act(obs: Any) -> Any:
            kwargs = {"action_masks": env.unwrapped.action_masks()} if masked else {}
            return model.predict(obs, deterministic=True, **kwargs)[0]

        transform = normalizer.normalize_obs if normalizer is not None else None
        for i, task in enumerate(levels.tasks[:max_levels]):
            clip, _ = record_episode(env, act, task, seed=seed + i, max_steps=10_000, frame_every=1,
                                     obs_transform=transform)
            frames.extend(clip + [clip[-1]] * 5)  # a short pause on the last frame between levels
    finally:
        env.close()
    return write_video(frames, path, fps=float(env.metadata.get("render_fps", 10)))


def output_dir(rd: RunDir, label: str) -> Path:
    """A new folder under ``RUN_DIR/evaluations/``; never an existing one."""
    root = rd.path / "evaluations"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:40] or "levels"
    for n in range(1000):
        target = root / (f"{stamp}-{safe}" + (f"-{n}" if n else ""))
        try:
            target.mkdir(parents=True)
            return target
        except FileExistsError:
            continue
    raise TeachBenchError("run_dir", f"cannot create a new folder under {root}")


# -- the command ------------------------------------------------------------------------------
def _options(items: Sequence[str]) -> dict[str, str]:
    allowed = ("levels", "episodes", "seed", "deterministic", "checkpoint")
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise TeachBenchError(item, "expected key=value", [f"{k}=..." for k in allowed])
        if key not in allowed:
            raise TeachBenchError(key, "unknown option", allowed)
        out[key] = value
    return out


def _int(options: Mapping[str, str], key: str, default: int, minimum: int) -> int:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TeachBenchError(key, f"must be an integer, got {raw!r}") from None
    if value < minimum:
        raise TeachBenchError(key, f"must be >= {minimum}, got {value}")
    return value


def _bool(options: Mapping[str, str], key: str) -> bool | None:
    raw = options.get(key)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise TeachBenchError(key, f"must be true or false, got {raw!r}", ["true", "false"])
    return raw.lower() == "true"


def evaluate_run(run_dir: str | Path, levels: str = "test", episodes: int | None = None, seed: int | None = None,
                 video: str | Path | None = None, video_levels: int = 4, device: str = "cpu",
                 deterministic: bool | None = None, checkpoint: bool = False) -> dict[str, Any]:
    """Evaluate a finished run (``checkpoint``: or an unfinished one's latest checkpoint);
    returns ``{"records", "table", "out", "policy", "video", "protocol"}``.

    The test set is played as training evaluated it (greedy, ``episodes`` each, default 1).
    ``levels=held_out`` follows the run's own held-out protocol (for the maze dcd's: every
    variant, 10 stochastic episodes per maze) unless ``episodes`` / ``deterministic`` are
    given, so its solved rates are the run's ``held_out_solved`` measured again; ``all``
    plays both, each by its own protocol."""
    rd, cfg = open_run(run_dir, unfinished=checkpoint)
    policy = find_policy(rd)
    chosen = level_set(cfg, levels)
    if video is not None and Path(video).suffix.lower() not in (".gif", ".mp4"):
        raise TeachBenchError("--video", f"unknown video suffix {Path(video).suffix!r}", [".gif", ".mp4"])
    test_protocol = {"episodes": 1 if episodes is None else episodes,
                     "deterministic": True if deterministic is None else deterministic}
    played = level_set(cfg, "test") if levels == "all" else None if levels == "held_out" else chosen
    held, held_protocol = held_out_part(cfg, episodes, deterministic) if levels in ("held_out", "all") else ({}, None)
    if not held:
        held_protocol = None  # levels=all on an env without held-out levels: the test set alone
    model, normalizer = load_policy(cfg, policy, device=device)
    try:
        seed = int(cfg.seed) + 300_000 if seed is None else seed
        parts = []
        if played is not None:
            parts.append(evaluate_levels(model, normalizer, cfg, played, int(test_protocol["episodes"]), seed,
                                         bool(test_protocol["deterministic"])))
        if held_protocol is not None:
            parts.append(evaluate_held_out_levels(model, normalizer, cfg, held, held_protocol, seed))
        records = pd.concat(parts, ignore_index=True)
        records.insert(0, "levels", chosen.label)
        records["policy"] = policy.source
        out = output_dir(rd, chosen.label)
        tmp = out / ".records.parquet.tmp"
        records.to_parquet(tmp, index=False)
        tmp.rename(out / "records.parquet")
        video_path = record_video(model, normalizer, cfg, chosen, Path(video), video_levels, seed) if video else None
    finally:
        model.get_env().close()
    protocol = {"test": None if played is None else test_protocol, "held_out": held_protocol}
    write_json(out / "meta.json", {"levels": levels, "label": chosen.label, "protocol": protocol, "seed": seed,
                                   "policy": str(policy.model_path.relative_to(rd.path)), "policy_source": policy.source,
                                   "video": str(video_path) if video_path else None})
    return {"records": records, "table": summary_table(records), "out": out, "policy": policy,
            "video": video_path, "protocol": protocol}


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``teachbench-eval``; bad input is one line and exit status 2."""

    def body() -> int:
        parser = one_line_parser("teachbench-eval", description="Evaluate a finished run's policy on a set of levels.")
        parser.add_argument("run_dir", help="a finished run directory")
        parser.add_argument("options", nargs="*", metavar="key=value",
                            help="levels=test|held_out|all|<mazes.txt> (default test), episodes=N (default 1; "
                                 "held_out: the run's protocol), deterministic=true|false, seed=S, "
                                 "checkpoint=latest (an unfinished run's latest checkpoint)")
        parser.add_argument("--video", metavar="OUT.gif", help="also record the first levels into this GIF/MP4")
        parser.add_argument("--video-levels", type=int, default=4, help="levels in the video (default 4)")
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        options = _options(args.options)
        if args.video_levels < 1:
            raise TeachBenchError("--video-levels", f"must be >= 1, got {args.video_levels}")
        if options.get("checkpoint", "latest") != "latest":
            raise TeachBenchError("checkpoint", f"unknown value {options['checkpoint']!r}", ["latest"])
        result = evaluate_run(args.run_dir, options.get("levels", "test"),
                              _int(options, "episodes", 1, 1) if "episodes" in options else None,
                              _int(options, "seed", 0, 0) if "seed" in options else None, args.video, args.video_levels,
                              deterministic=_bool(options, "deterministic"), checkpoint="checkpoint" in options)
        policy = result["policy"]
        note = "" if policy.source == "final" else f" (no {FINAL_POLICY}: the policy of its {policy.source})"
        print(f"{args.run_dir}: policy {policy.source}{note}")
        print(result["table"].to_string(float_format=lambda v: f"{v:.3f}"))
        print(f"records: {result['out'] / 'records.parquet'}")
        if result["video"] is not None:
            print(f"video: {result['video']}")
        return 0

    return report_errors("teachbench-eval", body)


if __name__ == "__main__":
    sys.exit(main())
