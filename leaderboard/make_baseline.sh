#!/usr/bin/env bash
# Regenerate the committed baseline leaderboard (leaderboard/README.md says what and why).
#
#   leaderboard/make_baseline.sh                  # on the 16-core machine: every env, 5 seeds
#   RUNS=/tmp/bl SMOKE=1 leaderboard/make_baseline.sh   # a tiny smoke run of the same commands
#   ENVS="gridworld toy" leaderboard/make_baseline.sh     # some steps only (default: all four)
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
ENVS=" ${ENVS:-gridworld webform walker toy} "
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 SB3_LOGDIR=${SB3_LOGDIR:-/tmp/teachbench-sb3}

EXTRA=()
TRACK=()
if [[ "${SMOKE:-0}" == 1 ]]; then  # same commands, a budget that finishes in seconds per run
  EXTRA=(budget.steps=2048 eval.every=1024 checkpoint.every=1024 seed=0,1)
  TRACK=(seeds=2 episodes=2000 eval_every=500 write_episodes=false)
fi

step() { echo "== $*" >&2; "$@"; }

# The gridworld row uses the small mazes (5..9) at 150k steps: on the 15x15 mazes every
# teacher sits near the floor at this budget, so the table would rank nothing.
if [[ "$ENVS" == *" gridworld "* ]]; then
  step "$BIN/teachbench" experiment=baseline env=gridworld_small budget.steps=150000 eval.every=30000 \
    checkpoint.every=30000 hydra/launcher=cores "runs_dir=$RUNS" "${EXTRA[@]}"
fi
for env in webform; do
  [[ "$ENVS" == *" $env "* ]] || continue
  if [[ -f configs/env/$env.yaml ]]; then
    step "$BIN/teachbench" experiment=baseline "env=$env" hydra/launcher=cores "runs_dir=$RUNS" "${EXTRA[@]}"
  else
    echo "== skipped env $env: configs/env/$env.yaml does not exist yet" >&2
  fi
done
if [[ "$ENVS" == *" walker "* && -f configs/env/walker_stumps.yaml ]]; then
  WALKER=()
  [[ "${SMOKE:-0}" == 1 ]] && WALKER=(env.students.ppo.n_steps=512 env.students.ppo.batch_size=128 eval.every=2048)
  step "$BIN/teachbench" experiment=baseline_walker hydra/launcher=cores "runs_dir=$RUNS" "${EXTRA[@]}" "${WALKER[@]}"
fi
if [[ "$ENVS" == *" toy "* && -x "$BIN/teachbench-track" ]]; then
  # The simulated-student track: its own runner, same run-directory format (configs/track.yaml).
  step "$BIN/teachbench-track" name=track_full "runs_dir=$RUNS" seeds=10 "${TRACK[@]}"
fi

step "$BIN/teachbench-leaderboard" "$RUNS" --out "$OUT" --screenshot "$OUT/leaderboard.png" \
  --title "TeachBench baseline leaderboard"
# The leaderboard copies each row's resolved config (its lowest finished seed's; seeds
# differ only in `seed`) to $OUT/configs/<env>__<teacher>__<student>.yaml, and each row's
# command replays it: teachbench -cd $OUT/configs -cn <row> -m seed=... (checked by
# tests/test_baseline_configs.py).
echo "wrote $OUT/leaderboard.md, .csv, .html, .png and $OUT/configs/" >&2
