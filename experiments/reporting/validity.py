"""Does a leaderboard row measure an algorithm? Three facts per run, read from what the run wrote.

A row can look like a result while nothing was compared: at 100k walker steps PLR⊥'s
4000-level buffer never reached its first replay, so the student took no gradient step
and the "teacher" was an untrained policy; SPDL with TeachMyAgent's 200k-step offset ran
0 iterations in a 100k-step run, so it was its initial Gaussian all along
(leaderboard/README.md, the table of 2026-11-25). These checks make such rows visible:

- :func:`gradient_updates`: the student's gradient updates over the run. SB3 counts them
  in ``_n_updates`` (PPO and MaskablePPO: ``n_epochs`` per trained rollout; SAC/DQN: one
  per gradient step), which it stores as plain JSON in the ``data`` member of
  ``model.zip``; the summary's ``gradient_updates`` is read first where a run writes it.
  PLR⊥ and ACCEL skip the whole update of a rollout without a replayed level, so a run of
  theirs that never replayed reads 0. Read without unpickling anything (``zipfile`` +
  ``json``). NaN when neither is there (the simulated student, which has no gradient).
- :func:`teacher_updates`: how often the teacher changed its own curriculum, from its
  last diagnostics (``summary.json``'s ``teacher_diagnostics``) under the key each teacher
  already logs (:data:`TEACHER_UPDATE_KEYS`): GMM fits, region splits, ADR boundary moves,
  SPDL iterations, GAN / setter rounds, level replays, generator updates. ``None`` in the
  table means "nothing to update" (Random, the baseline); a teacher missing from the table
  reads NaN and is flagged as unknown, never as updated.
- :func:`eval_episodes_per_task`: ``eval.episodes_per_task`` of the run's config. Every
  RL env here draws a new episode from a task with the env's RNG (a maze generated from
  size/density, stump heights ~ N(h, 0.1), a form generated from its parameters), so one
  deterministic-policy episode per test task measures the draw as much as the policy;
  :data:`MIN_EVAL_EPISODES` (5) is the floor the leaderboard asks for (issue #20). The
  simulated student's test is exact (a cell's competence), so it is not flagged
  (:data:`EXACT_EVAL_STUDENTS`).
- :func:`code_verdict`: whether the run's code already had its teacher's TeachMyAgent
  fidelity fix (:data:`FIDELITY_FIXES`, session 9's audit). A run made before it measures the
  earlier implementation, not TMA's algorithm, so its row is flagged until it is rerun.
- :func:`student_verdict`: whether the run's student network is the reference's where the
  env has one (:data:`REFERENCE_POLICIES`). Until session 17 every walker PPO run had SB3's
  default network (``student=ppo``, separate 64-64 actor and critic) while the docs said
  TeachMyAgent's (one 400-300 network shared by policy and value, ``student=ppo_tma``); such
  rows measure the teachers with another student, and say so.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Mapping

MIN_EVAL_EPISODES = 5
EXACT_EVAL_STUDENTS = frozenset({"sim"})
_REPO = Path(__file__).resolve().parents[2]  # the checkout holding experiments/

# teacher registry name -> the merge commit that made it TeachMyAgent's algorithm (the audit
# against TMA's code, tests/test_{adr,spdl,covar_gmm,setter_solver,goal_gan}_reference.py; what changed:
# leaderboard/README.md). Runs name their code (summary.json's ``code`` block) since commit
# 2c5cc97, which precedes every fix: a run of one of these teachers without that block was
# made by the earlier implementation.
FIDELITY_FIXES: dict[str, str] = {
    "adr": "5fbebd9836f8a842ea1b18045bf6b893b7a69862",
    "spdl": "5fbebd9836f8a842ea1b18045bf6b893b7a69862",
    "covar_gmm": "f38296f1906840efb16572661bb00d40f1afe6a3",
    "setter_solver": "f38296f1906840efb16572661bb00d40f1afe6a3",
    # session 10's audit (tests/test_goal_gan_reference.py): the audit commit itself, which the
    # reruns in experiments/results/goal_gan_audit/ descend from (they ran before the merge)
    "goal_gan": "a686e96d1fd1f6860e700fe371182e74713eb280",
    # session 11's audit (tests/test_riac_reference.py): TMA's perturbation std in env units, given
    # by the tma_* experiments' per-teacher configs; elsewhere RIAC's behaviour did not change
    "riac": "405cad94ef37c3b0696c7d3270da32dfeeb7c342",
}

# teacher registry name -> the experiment-name prefixes its fix changed (a teacher absent here:
# every experiment). RIAC's fix lives in configs/per_teacher/tma_*/riac.yaml, so its gridworld,
# web-form and toy runs measure the same algorithm before and after it (its toy rows reran
# identically: experiments/results/riac_audit/).
FIX_SCOPES: dict[str, tuple[str, ...]] = {"riac": ("tma_",)}

# teacher registry name -> diagnostics keys whose sum counts its curriculum updates
# (None: the teacher has no curriculum to update). Keys as each teacher's _diagnostics()
# names them (teachers/*.py); tests/test_leaderboard_validity.py checks that every
# registered teacher is listed, so a new teacher has to say what "updated" means for it.
TEACHER_UPDATE_KEYS: dict[str, tuple[str, ...] | None] = {
    "random": None,                          # domain randomization: the baseline, nothing to update
    "alp_gmm": ("n_fits",),                  # GMM fits (uniform until the first, after fit_rate episodes)
    "covar_gmm": ("n_fits",),
    "riac": ("n_splits",),                   # region splits (one region = uniform sampling)
    "adr": ("expansions", "contractions"),   # boundary moves of the box
    "spdl": ("iterations",),                 # context-distribution updates (after `offset` steps)
    "goal_gan": ("gan_updates",),            # GAN rounds after pretraining (every update_size goals)
    "setter_solver": ("rounds",),            # setter/judge training rounds (every update_period episodes)
    "plr": ("replayed",),                    # replayed levels: no replay = domain randomization
    "plr_robust": ("replayed",),
    "accel": ("replayed",),                  # ACCEL edits only replayed levels
    "paired": ("adversary_updates",),        # the maze adversary's PPO updates (students/paired_adversary.py)
    "paired_param": ("generator_updates",),  # the parameter generator's policy-gradient updates
    "minimax": ("adversary_updates",),       # the same adversary's PPO updates, on minus the protagonist's best return
    "clutr": ("generator_updates",),
    "clutr_param": ("generator_updates",),
    "qweb_curriculum": ("steps_seen",),      # QWeb's warm start decays with the env steps it has seen
    "qweb_instructor": None,                 # a fixed generator of goal states (QWeb's INET is not trained here)
    "webrl": ("phase",),                     # WebRL phases: each one regenerates the set from failed forms
}


def _number(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def model_updates(model_zip: str | Path) -> float:
    """SB3's ``_n_updates`` from a saved model's ``data`` member (plain JSON; nothing is
    unpickled), NaN when the file or the key is missing or unreadable."""
    path = Path(model_zip)
    if not path.is_file():
        return math.nan
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return math.nan
    return _number(data.get("_n_updates")) if isinstance(data, dict) else math.nan


def gradient_updates(run_dir: str | Path, summary: Mapping[str, Any] | None) -> float:
    """The student's gradient updates over the run (see the module doc); NaN if unknown."""
    summary = summary or {}
    if summary.get("gradient_updates") is not None:
        return _number(summary["gradient_updates"])
    return model_updates(Path(run_dir) / "model.zip")


def teacher_updates(teacher: str | None, diagnostics: Mapping[str, Any] | None) -> float | None:
    """How often ``teacher`` (its registry name) updated its curriculum, from its last
    diagnostics; ``None`` for a teacher with nothing to update (Random); NaN when the
    teacher is unknown to :data:`TEACHER_UPDATE_KEYS` or its diagnostics lack the key."""
    if teacher not in TEACHER_UPDATE_KEYS:
        return math.nan
    keys = TEACHER_UPDATE_KEYS[teacher]
    if keys is None:
        return None
    diagnostics = diagnostics or {}
    values = [_number(diagnostics.get(k)) for k in keys]
    return math.nan if any(math.isnan(v) for v in values) else float(sum(values))


def updated_verdict(updates: float | None) -> str:
    """One run's teacher verdict: ``n/a`` (nothing to update), ``unknown``, ``never`` or ``yes``."""
    if updates is None:
        return "n/a"
    if math.isnan(updates):
        return "unknown"
    return "yes" if updates > 0 else "never"


def row_updated(verdicts: list[str]) -> str:
    """A row's teacher verdict over its seeds: ``yes`` when some seed's teacher updated,
    ``never`` when every seed is known and none did, ``n/a`` for Random, else ``unknown``."""
    if not verdicts:
        return "unknown"
    if "yes" in verdicts:
        return "yes"
    if all(v == "n/a" for v in verdicts):
        return "n/a"
    if all(v == "never" for v in verdicts):
        return "never"
    return "unknown"


def eval_episodes_per_task(config: Any) -> float:
    """``eval.episodes_per_task`` of a run's config (1 when the key is absent: the runner's
    default); NaN for configs without an ``eval`` block."""
    from omegaconf import OmegaConf

    if OmegaConf.select(config, "eval", default=None) is None:
        return math.nan
    return _number(OmegaConf.select(config, "eval.episodes_per_task", default=1))


@functools.lru_cache(maxsize=256)
def _is_ancestor(ancestor: str, commit: str, repo: str) -> bool | None:
    """``git merge-base --is-ancestor``: True / False, None when git cannot tell (no git, no
    checkout, or a commit this clone does not have)."""
    try:
        done = subprocess.run(["git", "-C", repo, "merge-base", "--is-ancestor", ancestor, commit],
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(done.returncode)


def code_verdict(teacher: str | None, code: Mapping[str, Any] | None, repo: str | Path = _REPO,
                 experiment: str | None = None) -> str:
    """Was the run's teacher already TeachMyAgent's (:data:`FIDELITY_FIXES`)? ``n/a`` for a
    teacher without such a fix, or a run of an ``experiment`` outside the fix's
    :data:`FIX_SCOPES`; ``before fix`` for a run with no ``code`` block (made before runs
    recorded it, hence before the fixes) or whose commit does not descend from the fix,
    ``fixed`` when it does, ``unknown`` when git cannot place the commit (an installed wheel
    records none; a commit of another clone)."""
    fix = FIDELITY_FIXES.get(str(teacher))
    if fix is None:
        return "n/a"
    scope = FIX_SCOPES.get(str(teacher))
    if scope is not None and not str(experiment or "").startswith(scope):
        return "n/a"
    if not code:
        return "before fix"
    commit = code.get("commit")
    if not commit:
        return "unknown"
    if commit == fix:
        return "fixed"
    after = _is_ancestor(fix, str(commit), str(repo))
    return "unknown" if after is None else ("fixed" if after else "before fix")


# (env name, student algo) -> (the reference's policy config, what it is): the network a run of
# that env and algorithm must have to be the reference's student
REFERENCE_POLICIES: dict[tuple[str, str], tuple[str, str]] = {
    ("walker_stumps", "ppo"): ("shared_mlp", "TMA's PPO network is one 400-300 trunk shared by policy and value"),
}


def reference_network(env: str | None, algo: str | None) -> str | None:
    """What the reference's network is for this env and student algorithm (None: no reference)."""
    reference = REFERENCE_POLICIES.get((str(env), str(algo)))
    return None if reference is None else reference[1]


def student_verdict(env: str | None, algo: str | None, policy: str | None) -> str:
    """``reference`` when the run's student network is the reference's for its env and
    algorithm (:data:`REFERENCE_POLICIES`), ``differs`` when it is not, ``n/a`` where the
    env has no reference network for that algorithm."""
    reference = REFERENCE_POLICIES.get((str(env), str(algo)))
    if reference is None:
        return "n/a"
    return "reference" if policy == reference[0] else "differs"


def row_flags(student: str, trained_seeds: int, seeds_known: int, updated: str, eval_episodes: float,
              code: list[str] | None = None, network: list[str] | None = None,
              reference: str | None = None, finals: list[float] | None = None) -> list[str]:
    """The warnings of one leaderboard row (empty: the row measures an algorithm).

    ``trained_seeds`` of ``seeds_known`` finished seeds with a known gradient-update count
    took a gradient step; ``updated`` is the row's teacher-update verdict ("yes", "never",
    "n/a", "unknown"); ``eval_episodes`` the smallest ``eval.episodes_per_task`` of its seeds;
    ``code`` the seeds' :func:`code_verdict`; ``network`` the seeds' :func:`student_verdict`
    and ``reference`` what the reference network is; ``finals`` the finished seeds' final %
    of the test set mastered: a row whose every seed ends at 0 % is at the floor, where no teacher
    can be told from another (the env is too hard for the budget), and says so."""
    flags = []
    network = network or []
    if network.count("differs"):
        flags.append(f"student network not the reference's ({network.count('differs')}/{len(network)} seeds; "
                     f"{reference or 'see REFERENCE_POLICIES'})")
    code = code or []
    before, unknown = code.count("before fix"), code.count("unknown")
    if before:
        flags.append(f"made before the teacher's TMA fidelity fix ({before}/{len(code)} seeds)")
    if unknown:
        flags.append(f"code vs the teacher's TMA fidelity fix unknown ({unknown}/{len(code)} seeds)")
    if seeds_known and trained_seeds == 0:
        flags.append("no seed trained")
    if updated == "never":
        flags.append("teacher never updated")
    elif updated == "unknown":
        flags.append("teacher updates unknown")
    if student not in EXACT_EVAL_STUDENTS and not math.isnan(eval_episodes) and eval_episodes < MIN_EVAL_EPISODES:
        flags.append(f"{int(eval_episodes)} eval episode(s)/task < {MIN_EVAL_EPISODES}")
    if finals and all(f == 0 for f in finals):
        flags.append(f"every seed at 0 % mastered ({len(finals)}/{len(finals)}): the floor, no teacher is told apart")
    return flags


__all__ = ["EXACT_EVAL_STUDENTS", "FIDELITY_FIXES", "MIN_EVAL_EPISODES", "REFERENCE_POLICIES", "TEACHER_UPDATE_KEYS",
           "code_verdict", "reference_network", "student_verdict",
           "eval_episodes_per_task",
           "gradient_updates", "model_updates", "row_flags", "row_updated", "teacher_updates", "updated_verdict"]
