"""Issue #18's overhead figures of session 19, read back from the raw ``bench_overhead.py`` and
``bench_fit_workers.py`` outputs in experiments/results/scale_2026-11-30/session19/: the README
quotes what the files say, and the conclusions drawn from them hold on the files' own numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "experiments" / "results" / "scale_2026-11-30"
S19 = HERE / "session19"


def bridge_shares(path: Path) -> dict[str, tuple[float, float, float]]:
    """teacher -> (bridge share, 1 - share, ms per 1k steps) from a bench_overhead output."""
    text = path.read_text().split("1 - share  ms per 1k steps", 1)[1]
    rows = re.findall(r"^(\S+)\s+([\d.]+)\s+\[[\d.\-]+\]\s+([\d.]+)\s+([\d.]+)$", text, flags=re.M)
    return {name: (float(share), float(one_minus), float(ms)) for name, share, one_minus, ms in rows}


def episodes_per_1k(path: Path) -> dict[str, float]:
    """variant -> episodes finished per 1,000 env steps (the last column of the fps table)."""
    rows = re.findall(r"^bridge \+ (\S+)\s+.*\s([\d.]+)$", path.read_text(), flags=re.M)
    return {name: float(ep) for name, ep in rows}


def test_the_files_one_minus_share_is_one_minus_their_share():
    for name in ("overhead_fit_workers_call3.txt", "overhead_fit_workers_process_call4.txt",
                 "overhead_process_others_call5.txt"):
        for teacher, (share, one_minus, _) in bridge_shares(S19 / name).items():
            assert one_minus == pytest.approx(1 - share, abs=6e-4), (name, teacher)


def test_covar_gmm_meets_the_goal_only_in_a_worker_with_shared_refits_and_the_readme_says_so():
    call3, call4 = bridge_shares(S19 / "overhead_fit_workers_call3.txt"), bridge_shares(S19 / "overhead_fit_workers_process_call4.txt")
    assert call3["covar_gmm"][1] < call3["covar_gmm@w4"][1] < 0.97 <= call3["covar_gmm@w4p"][1]
    assert call4["covar_gmm@p"][1] < 0.97 <= call4["covar_gmm@w4p"][1]
    assert call4["alp_gmm@w4p"][1] >= 0.97 and call4["alp_gmm@p"][1] >= 0.97
    assert call3["alp_gmm"][1] < call3["alp_gmm@w4"][1] < 0.97
    readme = (HERE / "README.md").read_text()
    for cells in ("| 0.0260 / 0.0211 | **0.974 / 0.979** |", "| 0.0602 | 0.940 |", "| 0.0178 | **0.982** |",
                  "| 0.1097 | 0.890 |", "| 0.0849 | 0.915 |", "| 0.2147 | 0.785 |", "| 0.1270 | 0.873 |"):
        assert cells in readme
    assert (f"{call3['covar_gmm@w4p'][0]:.4f} / {call4['covar_gmm@w4p'][0]:.4f}") in readme


def test_spdls_share_is_the_bridges_per_episode_cost_times_its_episodes():
    """SPDL's bridge costs per episode what random's does (within 10 %); its share is high because
    its curriculum ends ~12x more episodes per step."""
    path = S19 / "overhead_process_others_call5.txt"
    shares, episodes = bridge_shares(path), episodes_per_1k(path)
    per_episode = {t: shares[t][2] / episodes[t] * 1000 for t in ("random", "spdl@p")}  # microseconds
    assert per_episode["spdl@p"] == pytest.approx(per_episode["random"], rel=0.10)
    assert round(per_episode["spdl@p"]) == 22 and 11 < episodes["spdl@p"] / episodes["random"] < 13
    assert shares["adr@p"][1] >= 0.97 and shares["riac@p"][1] >= 0.97 and shares["spdl@p"][1] < 0.97
    assert "**ADR 0.972**" in (HERE / "README.md").read_text()


def test_shared_refits_are_faster_with_more_processes_on_the_h200():
    rows = re.findall(r"^(\w+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+lag", (S19 / "fit_workers_h200.txt").read_text(), flags=re.M)
    ratio = {(t, int(w), i % 2): float(r) for i, (t, w, _, _, r) in enumerate(rows)}  # rows alternate lag 1, lag 0
    assert len(ratio) == 12
    for t in ("covar_gmm", "alp_gmm"):
        for lag in (0, 1):
            assert ratio[(t, 8, lag)] < ratio[(t, 2, lag)] < 1
