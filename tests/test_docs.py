"""The repo explains itself: its links stay inside it, and the worked examples of docs/ run.

- No file points outside the repo (a user who clones it has no ``../shared`` folder), every
  relative Markdown link resolves to a file and anchor, and every ``docs/<page>.md#anchor``
  cited from code exists.
- The paths that the docs name in backticks exist (the pages follow the code when modules
  move), except the files the worked examples ask the reader to create.
- The worked examples of ``docs/adding_a_teacher.md``, ``docs/adding_an_env.md`` and
  ``docs/adding_a_student.md`` are extracted from the pages (the fenced block after each
  ``<!-- example: <path> -->`` marker) and run: a newcomer following a page gets a
  teacher / env / student that passes the contract checks and trains in a real run.

The examples are installed only for the test: modules go to a temporary folder appended
to the ``teachers`` / ``envs`` package path, registry entries are added and removed, and
configs reach Hydra through ``hydra.searchpath``; the repo's own files are never touched.
"""

from __future__ import annotations

import ast
import io
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIG_DIR = ROOT / "configs"

# Folders that hold outputs, environments or VCS data, never sources the user reads.
SKIP_DIRS = {".git", ".venv", "venv", "runs", "outputs", "multirun", "wandb", "node_modules", "__pycache__",
             ".pytest_cache", ".ipynb_checkpoints", "build", "dist"}
BINARY_SUFFIXES = {".png", ".gif", ".jpg", ".jpeg", ".parquet", ".zip", ".pt", ".pyc", ".so", ".whl", ".gz", ".pdf"}

# Written as concatenations so that this file does not match its own patterns.
OUTSIDE_POINTERS = [
    re.compile(r"\.\./" + "shared"),
    re.compile(r"\bshared/" + r"(DESIGN|REFERENCES)"),
    re.compile(r"\b" + "REFERENCES" + r"(\.md)?\b"),
    re.compile(r"\b" + "DESIGN" + r"\.md\b"),
    re.compile(r"/work/" + r"shared\b"),
]

# Files the worked examples ask the reader to create: named in the pages, absent from the repo.
EXAMPLE_FILES = {
    "teachers/binned_lp.py", "configs/teacher/binned_lp.yaml", "tests/test_binned_lp.py",
    "envs/corridor.py", "configs/env/corridor.yaml", "tests/test_corridor.py",
    "configs/student/trpo.yaml",
}


def repo_files(suffixes: set[str] | None = None) -> Iterator[Path]:
    """Every source/document file of the checkout (outputs and binaries skipped)."""
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            if name == ".git":  # a worktree's pointer to its repository, not a source
                continue
            path = Path(dirpath) / name
            if path.suffix.lower() in BINARY_SUFFIXES:
                continue
            if suffixes is not None and path.suffix not in suffixes:
                continue
            yield path


def read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


# -- links ------------------------------------------------------------------------------------
def github_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # [text](link) -> text
    text = text.replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    """Explicit ``<a id=...>`` / ``<a name=...>`` anchors and GitHub heading anchors of a page."""
    text = path.read_text(encoding="utf-8")
    found = set(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", text))
    seen: dict[str, int] = {}
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m and not in_code:
            slug = github_slug(m.group(1))
            n = seen.get(slug, 0)
            found.add(slug if n == 0 else f"{slug}-{n}")
            seen[slug] = n + 1
    return found


def markdown_links(text: str) -> list[str]:
    """Targets of inline Markdown links and images, outside fenced code blocks."""
    out, in_code = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            out += [t.strip("<>") for t in re.findall(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", line)]
    return out


def test_no_file_points_outside_the_repo():
    offenders = []
    for path in repo_files():
        if path == Path(__file__).resolve():
            continue
        text = read_text(path)
        if text is None:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if any(p.search(line) for p in OUTSIDE_POINTERS):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:120]}")
    assert not offenders, "files point outside the repo (cite docs/ pages instead):\n" + "\n".join(offenders)


def test_markdown_links_resolve_to_files_and_anchors():
    broken = []
    pages = [p for p in repo_files({".md"})]
    assert ROOT / "README.md" in pages and ROOT / "CONTRIBUTING.md" in pages and DOCS / "references.md" in pages
    for page in pages:
        for target in markdown_links(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (page.parent / file_part).resolve() if file_part else page
            where = f"{page.relative_to(ROOT)} -> {target}"
            if ROOT not in dest.parents and dest != ROOT:
                broken.append(f"{where}: leaves the repo")
            elif not dest.exists():
                broken.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors_of(dest):
                broken.append(f"{where}: no anchor #{anchor}")
    assert not broken, "broken Markdown links:\n" + "\n".join(broken)


def test_docs_citations_from_code_resolve():
    """``docs/<page>.md#anchor`` in any docstring, comment or config names a real anchor."""
    cite = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
    broken, count = [], 0
    for path in repo_files():
        text = read_text(path)
        if text is None or path.parent == DOCS:
            continue
        for page, anchor in cite.findall(text):
            count += 1
            if not (DOCS / page).exists():
                broken.append(f"{path.relative_to(ROOT)}: docs/{page} does not exist")
            elif anchor and anchor not in anchors_of(DOCS / page):
                broken.append(f"{path.relative_to(ROOT)}: docs/{page}#{anchor} has no such anchor")
    assert count >= 50, f"only {count} citations of docs/ pages found: did the scan miss the sources?"
    assert not broken, "\n".join(broken)


def test_paths_named_in_the_docs_exist():
    """Backticked repo paths in README, CONTRIBUTING and docs/ exist, so the pages follow the
    code when a module moves (placeholders like ``runs/<name>/`` and example files aside)."""
    tops = ("envs/", "teachers/", "students/", "experiments/", "configs/", "benchmarks/", "tests/", "docs/",
            "leaderboard/")
    stale = []
    for page in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]:
        for token in re.findall(r"`([^`\s]+)`", page.read_text(encoding="utf-8")):
            path = token.split("#")[0].split(":")[0].rstrip(".,;)")
            if not path.startswith(tops) or any(c in path for c in "<>*{}$=") or path in EXAMPLE_FILES:
                continue
            if not (ROOT / path).exists():
                stale.append(f"{page.relative_to(ROOT)}: `{token}`")
    assert not stale, "paths named in the docs that do not exist:\n" + "\n".join(stale)


def test_architecture_figure_script_draws_the_png(tmp_path):
    sys.path.insert(0, str(DOCS))
    try:
        import architecture_figure
    finally:
        sys.path.remove(str(DOCS))
    out = architecture_figure.draw(tmp_path / "architecture.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert (DOCS / "architecture.png").exists()


# -- worked examples ----------------------------------------------------------------------------
def examples(page: str) -> dict[str, str]:
    """``{marker: code}`` of the fenced blocks that follow ``<!-- example: <marker> -->``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = dict(re.findall(r"<!-- example: ([^>]+?) -->\s*\n```[a-z]*\n(.*?)```", text, flags=re.S))
    assert found, f"no example blocks in docs/{page}"
    return found


def install_module(package: Any, tmp_path: Path, relpath: str, code: str, monkeypatch) -> str:
    """Write ``code`` as ``<package>/<name>.py`` under ``tmp_path`` and make it importable
    as ``<package>.<name>`` (the package path gets the temp folder appended)."""
    pkg_name, filename = relpath.split("/")
    folder = tmp_path / "ext" / pkg_name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_text(code)
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(folder)])
    module = f"{pkg_name}.{filename[:-3]}"
    assert module not in sys.modules, f"{module} exists in the repo: the example would shadow it"
    return module


def forget_module(package: Any, module: str) -> None:
    sys.modules.pop(module, None)
    if hasattr(package, module.split(".")[-1]):
        delattr(package, module.split(".")[-1])


def write_config(tmp_path: Path, relpath: str, text: str) -> Path:
    """Put an example config under a temp config root that Hydra searches after ours."""
    root = tmp_path / "ext_configs"
    dest = root / relpath.removeprefix("configs/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return root


def searchpath(root: Path) -> str:
    return f"hydra.searchpath=[file://{root}]"


def roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint gives back: torch.save, then torch.load(weights_only=True)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


FAST = ["budget.steps=2048", "eval.every=1024", "checkpoint.every=1024", "log.diagnostics_every=512"]


# -- adding a teacher ---------------------------------------------------------------------------
@pytest.fixture
def example_teacher(tmp_path, monkeypatch):
    """docs/adding_a_teacher.md followed to the letter: module, registry line, config."""
    import teachers
    from teachers import registry

    blocks = examples("adding_a_teacher.md")
    module = install_module(teachers, tmp_path, "teachers/binned_lp.py", blocks["teachers/binned_lp.py"], monkeypatch)
    entries = ast.literal_eval("{" + blocks["teachers/registry.py"].strip() + "}")
    assert entries == {"binned_lp": "teachers.binned_lp:BinnedLP"}
    for name, target in entries.items():
        monkeypatch.setitem(registry.TEACHERS, name, target)
    config_text = blocks["configs/teacher/binned_lp.yaml"]
    root = write_config(tmp_path, "configs/teacher/binned_lp.yaml", config_text)
    yield {"name": "binned_lp", "params": yaml.safe_load(config_text)["params"], "config_root": root,
           "blocks": blocks}
    forget_module(teachers, module)


def test_example_teacher_honours_the_teacher_contract(example_teacher):
    from envs.errors import TeachBenchError
    from envs.task_space import Dim, TaskSpace
    from teachers.base import Episode, Teacher
    from teachers.registry import make_teacher

    space = TaskSpace((Dim("n", 1, 4, "discrete"), Dim("colour", kind="categorical", choices=("r", "g", "b")),
                       Dim("x", -1.0, 1.0)))
    teacher = make_teacher("binned_lp", space, seed=3, **example_teacher["params"])
    assert isinstance(teacher, Teacher) and teacher.name == "binned_lp"
    rng = np.random.default_rng(0)
    for i in range(300):
        task = teacher.sample()
        assert space.contains(task)
        ret = float(space.to_unit(task)[2] * i / 300 + rng.normal(0, 0.01))  # progress depends on x
        teacher.update(Episode(task=task, episode_return=ret, length=1, episode_id=i))
    teacher.update(Episode(task=teacher.sample(), episode_return=math.nan, length=1))
    assert teacher.n_updates == 300 and teacher.n_dropped == 1
    diag = teacher.diagnostics()
    assert diag["cells_seen"] >= 2 and diag["max_lp"] > 0
    twin = make_teacher("binned_lp", space, seed=99, **example_teacher["params"])
    twin.load_state_dict(roundtrip(teacher.state_dict()))
    assert [twin.sample() for _ in range(30)] == [teacher.sample() for _ in range(30)]
    with pytest.raises(TeachBenchError) as err:
        make_teacher("binned_lp", space, bins=0)
    assert err.value.key == "teacher.bins"
    with pytest.raises(TeachBenchError) as err:
        make_teacher("binned_lp", space, colour=3)
    assert err.value.key == "teacher.colour"


def test_example_teacher_samples_where_returns_change(example_teacher):
    """The page's algorithm: a cell whose returns never change has LP 0 and, with no uniform
    share, is never chosen; LP is |mean(newer half) - mean(older half)|, by hand 0.5 here."""
    from envs.task_space import TaskSpace
    from teachers.base import Episode
    from teachers.registry import make_teacher

    space = TaskSpace.box(["x"], [0.0], [10.0])
    teacher = make_teacher("binned_lp", space, seed=0, bins=2, window=4, epsilon=0.0)
    for r_low, r_high in [(0.0, 0.3), (0.0, 0.3), (0.5, 0.3), (0.5, 0.3)]:
        teacher.update(Episode(task={"x": 2.0}, episode_return=r_low, length=1))  # cell 0: 0, 0, .5, .5
        teacher.update(Episode(task={"x": 8.0}, episode_return=r_high, length=1))  # cell 1: constant
    assert teacher.learning_progress() == {(0,): pytest.approx(0.5), (1,): 0.0}
    assert all(teacher.sample()["x"] < 5.0 for _ in range(200))


def _suite_tests(modules: tuple[str, ...], members: set[str]) -> list[tuple[str, Any]]:
    """The repo's generic tests over all registered teachers or envs: every non-slow
    ``test_*(name)`` of ``modules`` parametrized over names that include ``members``."""
    import importlib
    import inspect

    found = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        for fname, func in sorted(vars(module).items()):
            if not fname.startswith("test_") or list(inspect.signature(func).parameters) != ["name"]:
                continue
            marks = getattr(func, "pytestmark", [])
            if any(m.name == "slow" for m in marks):
                continue
            for mark in marks:
                if mark.name == "parametrize" and mark.args[0] == "name":
                    values = [v.values[0] if hasattr(v, "values") else v for v in mark.args[1]]
                    if members <= set(values):
                        found.append((f"{module_name}.{fname}", func))
    return found


def run_suites(suites: list[tuple[str, Any]], name: str) -> None:
    for label, test in suites:
        try:
            test(name)
        except Exception as exc:  # noqa: BLE001 - name the suite test that failed
            raise AssertionError(f"{label}({name!r}) failed: {type(exc).__name__}: {exc}") from exc


def test_example_teacher_passes_the_generic_teacher_suites(example_teacher):
    """The page says the fuzz and determinism suites take a registered teacher as it is:
    run each of them on the example (degenerate, non-finite and huge returns, 50
    dimensions, categorical dimensions, checkpoint round trips, same seed same tasks)."""
    suites = _suite_tests(("test_fuzz_teachers", "test_determinism"), {"random", "alp_gmm"})
    assert len(suites) >= 5, suites
    run_suites(suites, "binned_lp")


def test_example_teacher_page_unit_test_passes(example_teacher):
    namespace: dict[str, Any] = {}
    exec(compile(example_teacher["blocks"]["tests/test_binned_lp.py"], "docs/adding_a_teacher.md", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert tests
    for test in tests:
        test()


def test_example_teacher_on_the_simulated_student_track(example_teacher, tmp_path):
    """The page's track command composes, and the example masters several times more cells
    than Random, as learning-progress teachers do on this toy
    (docs/references.md#simulated-student)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from experiments.running.teacher_track import run_one, track_specs

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="track", overrides=[
            searchpath(example_teacher["config_root"]), "+teacher@teachers.binned_lp=binned_lp",
            "only=[binned_lp,random]", "seeds=1", "episodes=5000", "eval_every=1000",
            f"runs_dir={tmp_path / 'runs'}"])
    specs = track_specs(cfg)
    assert sorted(s["label"] for s in specs) == ["binned_lp", "random"]
    scores = {s["label"]: run_one(s)["final_mastered"] for s in specs}
    assert scores["random"] <= 5
    assert scores["binned_lp"] >= 3 * max(scores["random"], 2.0), scores


def test_example_teacher_trains_a_real_student(example_teacher, compose):
    from experiments.running.run import run, run_dir_for

    cfg = compose(searchpath(example_teacher["config_root"]), "env=gridworld_small", "teacher=binned_lp",
                  "student=ppo", "env.kwargs.max_steps=30", *FAST)
    assert cfg.teacher.params.bins == example_teacher["params"]["bins"]
    summary = run(cfg)
    rd = run_dir_for(cfg)
    assert summary["teacher"] == "binned_lp" and summary["steps"] >= 2048 and rd.status()["state"] == "finished"
    episodes = rd.read("episodes")
    assert len(episodes) == summary["episodes"] > 30
    diag = rd.read("teacher")
    assert diag["cells_seen"].iloc[-1] >= 2 and diag["updates"].iloc[-1] == summary["episodes"]


# -- adding an env ------------------------------------------------------------------------------
@pytest.fixture
def example_env(tmp_path, monkeypatch):
    import gymnasium as gym

    import envs
    from envs import registry

    blocks = examples("adding_an_env.md")
    module = install_module(envs, tmp_path, "envs/corridor.py", blocks["envs/corridor.py"], monkeypatch)
    line = blocks["envs/_register.py"].strip()
    assert line.startswith("register_benchmark_env(")
    exec(line, {"register_benchmark_env": registry.register_benchmark_env})
    root = write_config(tmp_path, "configs/env/corridor.yaml", blocks["configs/env/corridor.yaml"])
    yield {"name": "corridor", "config_root": root, "config": yaml.safe_load(blocks["configs/env/corridor.yaml"])}
    gym_id = registry.ENV_IDS.pop("corridor", None)
    if gym_id in gym.registry:
        del gym.registry[gym_id]
    forget_module(envs, module)


def test_example_env_passes_the_env_checkers(example_env):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    from envs.errors import TeachBenchError
    from envs.registry import make_env

    env = make_env("corridor", **example_env["config"]["kwargs"])
    check_env(env.unwrapped)
    sb3_check_env(env.unwrapped)
    u = env.unwrapped
    # what the page promises: from cell length // 2, with no slip, the left end is length // 2
    # left-steps away and the right end length - 1 - length // 2 right-steps away
    sides = set()
    for seed in range(20):
        obs, info = env.reset(seed=seed, options={"task": {"length": 6, "slip": 0.0}})
        assert info["task"] == {"length": 6, "slip": 0.0} and obs[0] == pytest.approx(3 / u.max_length)
        right = bool(obs[2] == 1.0)
        sides.add(right)
        for _ in range(2 if right else 3):
            assert not info.get("success")
            obs, reward, terminated, truncated, info = env.step(1 if right else 0)
            assert info["task"]["length"] == 6
        assert (reward, terminated, info["success"]) == (1.0, True, True) and u.is_mastered(reward, True)
    assert sides == {True, False}  # both ends are drawn
    obs, info = env.reset(options={"task": {"length": 6, "slip": 0.0}})
    away = 0 if obs[2] == 1.0 else 1  # walking away from the goal: truncated, no success
    for _ in range(u.max_steps):
        obs, reward, terminated, truncated, info = env.step(away)
    assert truncated and not terminated and info["success"] is False
    with pytest.raises(TeachBenchError) as err:
        env.reset(options={"task": {"length": 50, "slip": 0.1}})
    assert err.value.key == "task.length"
    assert len(u.test_tasks()) == 12 and all(u.task_space.contains(t) for t in u.test_tasks())


def test_example_env_passes_the_generic_env_suites(example_env):
    """The page says the fuzz and determinism suites take a registered env as it is: run
    each of them on the example (random and extreme tasks, same seed same episodes and
    evaluation)."""
    suites = _suite_tests(("test_fuzz_envs", "test_determinism"), {"gridworld", "toy"})
    assert len(suites) >= 2, suites
    run_suites(suites, "corridor")


def test_example_env_trains_with_an_expert_knowledge_teacher(example_env, compose):
    """The page's config, with ADR reading its ``expert:`` block, in a real run."""
    from experiments.running.run import run, run_dir_for

    cfg = compose(searchpath(example_env["config_root"]), "env=corridor", "teacher=adr", "student=ppo", *FAST)
    summary = run(cfg)
    rd = run_dir_for(cfg)
    assert summary["env"] == "corridor" and summary["test_tasks"] == 12 and rd.status()["state"] == "finished"
    episodes = rd.read("episodes")
    assert {"task.length", "task.slip"} <= set(episodes) and len(episodes) > 50
    assert episodes["task.length"].between(3, 21).all() and episodes["task.slip"].between(0.0, 0.5).all()


# -- adding a student ---------------------------------------------------------------------------
@pytest.fixture
def example_student(tmp_path):
    from gymnasium import spaces

    from students import build

    blocks = examples("adding_a_student.md")
    added = {"ALGOS": dict(build.ALGOS), "ACTION_SPACES": dict(build.ACTION_SPACES)}
    exec(blocks["students/build.py"], {"ALGOS": build.ALGOS, "ACTION_SPACES": build.ACTION_SPACES, "spaces": spaces})
    root = write_config(tmp_path, "configs/student/trpo.yaml", blocks["configs/student/trpo.yaml"])
    env_defaults = yaml.safe_load(blocks["configs/env/gridworld.yaml students"])
    try:
        yield {"config_root": root, "env_defaults": env_defaults}
    finally:
        for table in ("ALGOS", "ACTION_SPACES"):
            current = getattr(build, table)
            for key in set(current) - set(added[table]):
                del current[key]


def test_example_student_trains_in_a_real_run(example_student, compose):
    from sb3_contrib import TRPO

    from experiments.running.run import run, run_dir_for
    from students.build import ALGOS

    assert ALGOS["trpo"] is TRPO
    defaults = example_student["env_defaults"]["trpo"]
    override = "+env.students.trpo={" + ",".join(f"{k}:{v}" for k, v in defaults.items()) + "}"
    cfg = compose(searchpath(example_student["config_root"]), "env=gridworld_small", "teacher=random",
                  "student=trpo", override, "env.kwargs.max_steps=30", *FAST)
    summary = run(cfg)
    rd = run_dir_for(cfg)
    assert summary["student"] == "trpo" and summary["steps"] >= 2048 and rd.status()["state"] == "finished"
    ckpt = next((rd.checkpoint_dir).glob("step-*/model.zip"))
    import json
    import zipfile

    with zipfile.ZipFile(ckpt) as archive:
        data = json.loads(archive.read("data"))
    assert data["n_steps"] == defaults["n_steps"] and data["gamma"] == pytest.approx(defaults["gamma"])
