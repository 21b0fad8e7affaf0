#!/usr/bin/env bash
# Regenerate the committed baseline leaderboard (leaderboard/README.md says what and why).
#
#   leaderboard/make_baseline.sh                  # on the 16-core machine: every env, 5 seeds
#   RUNS=/tmp/bl SMOKE=1 leaderboard/make_baseline.sh   # a tiny smoke run of the same commands
#   ENVS="gridworld toy" leaderboard/make_baseline.sh     # some steps only (default: all five)
#
# Every step is a Hydra multirun over every teacher config that exists (teacher=glob(*)),
# with the joblib launcher sized to the cores (hydra/launcher=cores). Runs are resumable:
# if a step is cut off (time limit, kill), run the script again; finished runs are skipped
# and unfinished ones continue from their last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-runs}
OUT=${OUT:-leaderboard}
ENVS=" ${ENVS:-gridworld webform walker toy tma} "
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 SB3_LOGDIR=${SB3_LOGDIR:-/tmp/teachbench-sb3}

EXTRA=()
TRACK=()
TRACK_LITE=(seeds=3 episodes=10000 eval_every=500)
if [[ "${SMOKE:-0}" == 1 ]]; then  # same commands, a budget that finishes in seconds per run
  EXTRA=(budget.steps=2048 eval.every=1024 checkpoint.every=1024 seed=0,1 ued.buffer_size=8 spdl.offset=512
         spdl.update_period=256)
  TRACK=(seeds=2 episodes=2000 eval_every=500 write_episodes=false)
  TRACK_LITE=(seeds=2 episodes=1000 eval_every=500 write_episodes=false)
fi

step() { echo "== $*" >&2; "$@"; }

# One preset per env (configs/experiment/baseline_<env>.yaml: budget where the student learns,
# 5 evaluation episodes per test task, replay buffers and SPDL's schedule scaled to the budget),
# then its lite tier (configs/experiment/lite_<env>.yaml: a fraction of the budget, 3 seeds).
# The gridworld rows are the 15x15 mazes at 300k steps: on the small mazes Random masters 86% at
# 150k, so nothing separates. On a many-core machine in calls of <= 9 minutes:
# benchmarks/device_leaderboard.sh (it says how the sweep is split and why).
for env in gridworld webform walker; do
  [[ "$ENVS" == *" $env "* ]] || continue
  WALKER=() LAUNCH=(hydra/launcher=cores)
  if [[ "$env" == walker ]]; then  # 100 envs per run in 2 shm workers (TMA's PPO): packed, PPO's update on a GPU if any
    LAUNCH=(hydra/launcher=packed device=auto)
    command -v nvidia-smi >/dev/null 2>&1 && LAUNCH+=(update_device=cuda)
    [[ "${SMOKE:-0}" == 1 ]] && WALKER=(env.students.ppo.n_steps=512 env.students.ppo.batch_size=128 env.n_envs=1
                                        env.vec_env=dummy env.envs_per_worker=1)
  fi
  for tier in baseline lite; do
    step "$BIN/teachbench" "experiment=${tier}_$env" "${LAUNCH[@]}" "runs_dir=$RUNS" "${EXTRA[@]}" "${WALKER[@]}"
  done
done
if [[ "$ENVS" == *" tma "* ]]; then
  # Issue #21's rows (reduced; TeachMyAgent's full protocols are cluster work): the hexagon tracks at 400k steps
  # (configs/experiment/tma_hexagon.yaml says why) and the Parkour's walker and fish (baseline_parkour.yaml). On the
  # many-core machine in one call of <= 9.5 minutes: benchmarks/device_tma_rows.sh.
  HEX=(budget.steps=400000) PARKOUR=()
  if [[ "${SMOKE:-0}" == 1 ]]; then
    PARKOUR=(budget.steps=2048 eval.every=1024 checkpoint.every=512 seed=0,1 env.students.ppo.n_steps=512
             env.students.ppo.batch_size=128 +env.kwargs.max_episode_steps=50)
    HEX=("${PARKOUR[@]}")
  fi
  step "$BIN/teachbench" experiment=tma_hexagon hydra/launcher=cores "runs_dir=$RUNS" "${HEX[@]}"
  step "$BIN/teachbench" experiment=baseline_parkour hydra/launcher=cores "runs_dir=$RUNS" "${PARKOUR[@]}"
fi
if [[ "$ENVS" == *" toy "* && -x "$BIN/teachbench-track" ]]; then
  # The simulated-student track: its own runner, same run-directory format (configs/track.yaml).
  step "$BIN/teachbench-track" name=track_full "runs_dir=$RUNS" seeds=10 "${TRACK[@]}"
  step "$BIN/teachbench-track" name=lite "runs_dir=$RUNS" "${TRACK_LITE[@]}"
fi

step "$BIN/teachbench-leaderboard" "$RUNS" --out "$OUT" --screenshot "$OUT/leaderboard.png" \
  --title "TeachBench baseline leaderboard"
# The leaderboard copies each row's resolved config (its lowest finished seed's; seeds
# differ only in `seed`) to $OUT/configs/<env>__<teacher>__<student>.yaml, and each row's
# command replays it: teachbench -cd $OUT/configs -cn <row> -m seed=... (checked by
# tests/test_baseline_configs.py).
# The lite tier's evidence (also lite.csv and a section of leaderboard.md): Kendall / Spearman
# across teachers between each env's lite runs and its baseline runs.
step "$BIN/python" -m experiments.reporting.lite "$RUNS" --out "$OUT/lite.csv"
echo "wrote $OUT/leaderboard.md, .csv, .html, .png, lite.csv and $OUT/configs/" >&2
# The committed table is rebuilt from its manifest (leaderboard/runs/) and the committed tarballs,
# without rerunning anything, by: python leaderboard/rebuild.py (its docstring says how reruns join).
