"""Security of what a run writes and what the project loads (issue 10, "Security").

- A run directory holds only Parquet/JSON/YAML/log files, plus checkpoints: SB3's
  ``model.zip`` and ``state.pt``, which the runner loads with ``torch.load(weights_only=True)``.
  A ``state.pt`` replaced by a malicious pickle is refused and its payload never runs.
- A fake ``WANDB_API_KEY`` in the environment never reaches any file of the run directory.
- A config loaded from a run directory or a shared leaderboard entry
  (:func:`experiments.safe_config.load_run_config`) instantiates only our own classes:
  hostile ``_target_`` s, resolver interpolations and YAML Python tags are TeachBenchErrors
  naming the key.
- The webform HTML escapes every text a form carries (hostile labels, keys, values,
  options, names, patterns).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from envs.errors import TeachBenchError
from experiments.running.run import run, run_dir_for
from experiments.safe_config import load_run_config

FAST = ["budget.steps=2048", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=30",
        "+env.kwargs.n_test_tasks=4", "eval.held_out=false"]
FAKE_KEY = "tbfake0123456789abcdef0123456789abcdef01"
DATA_SUFFIXES = {".parquet", ".json", ".yaml", ".log"}
CHECKPOINT_FILES = {"model.zip", "state.pt"}

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")
HOSTILE = [
    "</script><img src=x onerror=alert(1)>",
    '"><svg onload=alert(document.cookie)>',
    "' onmouseover='alert(1)' x='",
    "<!-- --><script>alert(1)</script>",
    "javascript:alert(1)",
    "</textarea></title></style><iframe src=//evil>",
    "&lt;b&gt; &amp; &#x3C;script&#x3E;",
    "{{constructor.constructor('alert(1)')()}}",
    "\u2028\u2029<b>\x00</b>",
]


# -- run directory contents ----------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One tiny finished run with a checkpoint, shared by the tests below."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    root = tmp_path_factory.mktemp("sec")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"runs_dir={root / 'runs'}", "name=sec", *FAST])
    run(cfg)
    return cfg, run_dir_for(cfg)


def test_run_directory_holds_only_data_formats(finished_run):
    _, rd = finished_run
    files = [p for p in rd.path.rglob("*") if p.is_file()]
    assert files
    for p in files:
        rel = p.relative_to(rd.path)
        if rel.parts == ("model.zip",):  # the final policy (SB3's zip; loaded without unpickling)
            assert zipfile.is_zipfile(p)
            continue
        if rel.parts[0] == "checkpoints":
            assert p.name in CHECKPOINT_FILES or p.name == "latest.json", rel
            continue
        assert p.suffix in DATA_SUFFIXES, f"unexpected file type in a run directory: {rel}"
        head = p.read_bytes()[:2]
        assert not head.startswith(b"\x80"), f"{rel} starts like a pickle"
    # state.pt is torch's zip format and loads without unpickling arbitrary objects
    state_files = list(rd.checkpoint_dir.rglob("state.pt"))
    assert state_files and zipfile.is_zipfile(state_files[0])
    state = torch.load(state_files[0], weights_only=True)
    assert {"teacher", "step", "tables"} <= set(state)


class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("pwned",))


def test_malicious_state_pt_is_refused(finished_run, tmp_path):
    cfg, rd = finished_run
    marker = tmp_path / "marker.txt"
    latest = rd.checkpoint_dir / json.loads((rd.checkpoint_dir / "latest.json").read_text())["dir"]
    saved = (latest / "state.pt").read_bytes()
    summary = rd.summary_path.read_bytes()
    try:
        torch.save({"step": 1024, "teacher": _Payload(str(marker))}, latest / "state.pt")
        # a plain unpickler would run the payload: check the file really is hostile
        with pytest.raises(Exception):
            torch.load(latest / "state.pt", weights_only=True)
        assert not marker.exists()
        os.remove(rd.summary_path)  # unfinished: the rerun resumes from that checkpoint
        with pytest.raises(TeachBenchError, match=r"checkpoint: .*cannot be loaded safely .*weights_only=True\) refused it"):
            run(cfg)
        assert not marker.exists(), "the malicious checkpoint ran code"
    finally:
        (latest / "state.pt").write_bytes(saved)
        rd.summary_path.write_bytes(summary)


def test_fake_wandb_key_never_reaches_the_run_directory(compose, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose("name=wandbkey", "logger=wandb", "logger.mode=offline", *FAST)
    run(cfg)
    rd = run_dir_for(cfg)
    files = [p for p in rd.path.rglob("*") if p.is_file()]
    assert any("wandb" in p.parts for p in files), "wandb wrote nothing: the test would prove nothing"
    for p in files:
        assert FAKE_KEY.encode() not in p.read_bytes(), f"the API key was written to {p.relative_to(rd.path)}"


def test_key_interpolated_into_config_is_not_written(compose, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    cfg = compose("name=wandbinterp", "+logger.api_key=${oc.env:WANDB_API_KEY}", *FAST)
    run(cfg)
    rd = run_dir_for(cfg)
    for p in (p for p in rd.path.rglob("*") if p.is_file()):
        assert FAKE_KEY.encode() not in p.read_bytes(), f"the API key was written to {p.relative_to(rd.path)}"


# -- loading configs from run directories -------------------------------------------
def test_real_run_config_loads(finished_run):
    cfg, rd = finished_run
    loaded = load_run_config(rd.path)
    assert loaded.teacher.name == cfg.teacher.name and loaded.seed == cfg.seed


def test_project_configs_pass_the_allow_list(compose, tmp_path):
    """Every config group file we ship (the hydra callback's _target_ included) and every
    composed teacher config, saved as run.py saves it, is accepted. Launcher presets
    (configs/hydra/) read the environment on purpose and never reach a run directory."""
    import yaml

    from experiments.safe_config import check_config_tree

    root = Path(__file__).resolve().parents[1] / "configs"
    files = [f for f in sorted(root.rglob("*.yaml")) if "hydra" not in f.relative_to(root).parts]
    assert files
    for f in files:  # our own group files compose (defaults, hydra block): their values are checked
        check_config_tree(yaml.safe_load(f.read_text()) or {})
    for teacher in sorted(p.stem for p in (root / "teacher").glob("*.yaml")):
        cfg = compose(f"teacher={teacher}")
        saved = tmp_path / f"{teacher}.yaml"
        OmegaConf.save(OmegaConf.create(OmegaConf.to_container(cfg, resolve=True)), saved)
        assert load_run_config(saved).teacher.name == cfg.teacher.name


def _write(tmp_path: Path, data: dict | str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else OmegaConf.to_yaml(OmegaConf.create(data)))
    return path


@pytest.mark.parametrize(
    "target",
    [
        "os.system",
        "subprocess.Popen",
        "builtins.eval",
        "shutil.rmtree",
        "experiments.running.run.shutil.rmtree",        # reachable through one of our modules' imports
        "experiments.running.run.torch.load",
        "envs.registry.gym.make",
        "teachers.registry.importlib.import_module",
        "experiments.running.run.run",                   # our function, but not a class
        "experiments.running.run._Checkpointer",         # private
        "experiments.nowhere.Thing",
        "os.system; rm -rf /",
        "__import__('os').system",
        "",
    ],
)
def test_hostile_targets_are_refused_naming_the_key(tmp_path, target):
    marker = tmp_path / "marker"
    path = _write(tmp_path, {"teacher": {"name": "random", "params": {"hook": {
        "_target_": target, "_args_": [f"touch {marker}"]}}}})
    with pytest.raises(TeachBenchError) as err:
        load_run_config(path)
    assert err.value.key == "teacher.params.hook._target_"
    assert not marker.exists()


def test_targets_in_lists_and_json_entries_are_checked(tmp_path):
    path = _write(tmp_path, json.dumps({"callbacks": [{"_target_": "os.system", "_args_": ["id"]}]}), "entry.json")
    with pytest.raises(TeachBenchError) as err:
        load_run_config(path)
    assert err.value.key == "callbacks[0]._target_"


def test_own_classes_are_allowed(tmp_path):
    path = _write(tmp_path, {"callbacks": {"lb": {"_target_": "experiments.running.hydra_callbacks.LeaderboardOnSweepEnd"}},
                             "x": {"_target_": "teachers.random_teacher.RandomTeacher"}})
    loaded = load_run_config(path)
    assert loaded.x._target_ == "teachers.random_teacher.RandomTeacher"


@pytest.mark.parametrize("value", ["${oc.env:WANDB_API_KEY}", "prefix-${oc.env:HOME}", "${eval:1+1}",
                                   "${oc.decode:${oc.env:X}}", "${python.os.system:id}"])
def test_resolver_interpolations_are_refused(tmp_path, value):
    with pytest.raises(TeachBenchError) as err:
        load_run_config(_write(tmp_path, {"logger": {"project": value}}))
    assert err.value.key == "logger.project"


def test_plain_references_are_allowed(tmp_path):
    loaded = load_run_config(_write(tmp_path, {"env": {"expert": {"success": 1.0}}, "teacher": {"expert": "${env.expert}"}}))
    assert loaded.teacher.expert.success == 1.0


@pytest.mark.parametrize("text", [
    "a: !!python/object/apply:os.system ['id']\n",
    "a: !!python/name:os.system\n",
    "!!python/object/new:subprocess.Popen [['id']]\n",
    "- just\n- a list\n",
    "a: [unclosed\n",
])
def test_yaml_python_tags_and_garbage_are_refused(tmp_path, text):
    with pytest.raises(TeachBenchError) as err:
        load_run_config(_write(tmp_path, text))
    assert err.value.key == "config"


def test_missing_or_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(TeachBenchError):
        load_run_config(tmp_path)  # a directory without a config
    (tmp_path / "state.pt").write_bytes(b"\x80\x04")
    with pytest.raises(TeachBenchError):
        load_run_config(tmp_path / "state.pt")


# -- webform HTML ----------------------------------------------------------------------
class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]
        self.scripts += tag == "script"


def _page_structure(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_webform_html_escapes_hostile_strings():
    pytest.importorskip("envs.webform.html")
    from envs.webform.form import generate_form, make_task_space
    from envs.webform.html import render_html

    space = make_task_space()
    task = space.from_array(space.high)  # every field kind, distractors and pages
    form = generate_form(task, np.random.default_rng(0), space)
    clean = _page_structure(render_html(form))
    tried = 0
    for k, bad in enumerate(HOSTILE):
        pages = tuple(
            tuple(dataclasses.replace(e, label=bad + e.label, initial=bad if e.kind in ("text", "number", "date") else e.initial,
                                      options=tuple(bad + o for o in e.options), pattern=bad if e.pattern else "",
                                      name=e.name + bad)
                  for e in page)
            for page in form.pages)
        hostile = dataclasses.replace(form, pages=pages, keys=tuple(bad + x for x in form.keys),
                                      values=tuple(bad + v for v in form.values))
        html = render_html(hostile)
        seen = _page_structure(html)
        assert seen.tags == clean.tags, f"hostile string {bad!r} changed the page's tags"
        assert set(seen.attrs) <= set(clean.attrs), f"{bad!r} added attributes {set(seen.attrs) - set(clean.attrs)}"
        assert not any(a.startswith("on") for a in seen.attrs)
        assert seen.scripts == 1
        if any(c in bad for c in "<>\"'&"):
            assert bad not in html, f"{bad!r} reached the page unescaped"
        tried += 1
    assert tried == len(HOSTILE)


def test_malicious_model_zip_is_refused(finished_run, tmp_path):
    import base64

    cfg, rd = finished_run
    marker = tmp_path / "marker.txt"
    latest = rd.checkpoint_dir / json.loads((rd.checkpoint_dir / "latest.json").read_text())["dir"]
    model = latest / "model.zip"
    saved, summary = model.read_bytes(), rd.summary_path.read_bytes()
    try:
        with zipfile.ZipFile(model) as z:
            members = {n: z.read(n) for n in z.namelist()}
        data = json.loads(members["data"])
        serialized = [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]
        assert serialized, "model.zip holds no pickled entries"
        evil = base64.b64encode(pickle.dumps(_Payload(str(marker)))).decode()
        for k in serialized:
            data[k][":serialized:"] = evil
        members["data"] = json.dumps(data).encode()
        with zipfile.ZipFile(model, "w") as z:
            for n, b in members.items():
                z.writestr(n, b)
        os.remove(rd.summary_path)
        try:
            run(cfg)
        except Exception:  # noqa: BLE001 - refusing is fine; running the payload is not
            pass
        assert not marker.exists(), "the malicious model.zip ran code on resume"
    finally:
        model.write_bytes(saved)
        rd.summary_path.write_bytes(summary)
