#!/usr/bin/env bash
# The baseline leaderboard of issue #20 on a many-core machine, in calls of <= 9 minutes:
# each call runs one PART of the sweep within SWEEP_S seconds, then builds the leaderboard of
# what it ran and packs the run directories (no checkpoints, no model files, no per-episode
# tables) into $OUT. Merge the parts afterwards (below).
#
#   PART=measure,liteweb benchmarks/device_leaderboard.sh   # call 1: throughput of one run per env
#                                                     # on 4 cores + the web forms' lite tier on the rest
#   PART=grid    benchmarks/device_leaderboard.sh     # call 2: toy track + gridworld (baseline and lite)
#   PART=track / PART=gridworld                       # the two halves of grid, each on every core
#   PART=web     benchmarks/device_leaderboard.sh     # call 3: web forms (baseline)
#   PART=walker1 / walker2 / walker3                  # calls 4-6: the walker (walker3 with its lite tier)
#   PART=grid,web CORES=64 ...                        # several parts in one call on a bigger machine
#   PART=tma     benchmarks/device_leaderboard.sh     # issue #21: hexagon + reduced Parkour rows (run it through
#                                                     # benchmarks/device_tma_rows.sh, which also keeps the
#                                                     # unfinished runs' checkpoints; its header sizes it)
#   SMOKE=1 TEACHERS=random,alp_gmm SEEDS=0,1 PART=all OUT=/tmp/out benchmarks/device_leaderboard.sh
#                                                     # the same commands at a tiny budget (any machine)
# Environment: OUT (required; the device's $OUT), CORES (default: nproc), PY (default python3;
# the lead's PYTHONPATH carries the wheels and this tree), RUNS (default /tmp/tb-runs), SWEEP_S
# (seconds the sweeps may take before they are interrupted; default 450, so that the leaderboard
# (~30-60 s) and the archive are written within 9 minutes), TEACHERS / SEEDS (override the sweeps' lists),
# TITLE (the leaderboard's title), SMOKE_STEPS (budget of the SMOKE=1 runs of PART=tma; default 2048).
# Files in $OUT (<= 4 per part, well under 16 MiB each): <part>.tar.gz (run directories with
# config, summary, status, eval/ and teacher/ tables, run.log; and _leaderboard/ with the md,
# csv, html, runs.csv, lite.csv and row configs), <part>-leaderboard.md, <part>-timing.txt.
#
# Merge (on any machine, from the repository root, with the tarballs in one folder):
#   mkdir -p runs_issue20 && for t in *.tar.gz; do tar xzf $t -C runs_issue20; done
#   python -m experiments.reporting.cli runs_issue20 --out leaderboard --title "TeachBench baseline leaderboard"
#   python -m experiments.reporting.lite runs_issue20 --out leaderboard/lite.csv
# (runs of different parts never share a directory: each run has its own name and config id.)
#
# SIZING (32 cores x 8 min = 15,360 core-seconds per call; every run is single-threaded,
# hydra/launcher=cores runs one per core). Throughput measured on ONE core of the shared 2-core
# development machine (PART=measure measures the device's own; scale the budgets below by its
# ratio if the device is slower):
#   gridworld 15x15, PPO, 8 envs:  300k steps in ~55 s with 6 evaluations of 250 episodes
#                                  (~5.5k steps/s); PAIRED/CLUTR ~2x (an antagonist trains too)
#   web forms, MaskablePPO + set policy: ~300 steps per CPU-second (20k steps: 65-70 CPU-s)
#   walker stumps, PPO, 1 env:     ~650 steps per CPU-second; a final evaluation of 100 tasks x 5
#                                  episodes costs ~110 CPU-s once the walker stands (2000-step
#                                  episodes: 1M env steps at ~9k steps/s)
#   toy track: 20k episodes; GoalGAN and Setter-Solver ~150 s a run, the others 1-14 s
#                                  (experiments/results/README.md)
# Teacher configs: 15 (configs/teacher/). paired and clutr design mazes: on the web forms and
# the walker they fail at once and are listed as failed rows (the README's rule), costing seconds.
#   grid:   track_full 9 teachers x 10 seeds (~3,700 core-s) + track lite (3 seeds x 10k episodes,
#           ~550 core-s) on 12 workers: ~2 waves of GoalGAN/Setter-Solver + the lite = ~400 s;
#           baseline_gridworld 15 x 5 = 75 runs x ~70 s (PAIRED/CLUTR/CLUTR-param/PAIRED-param ~140 s)
#           = ~6,600 core-s + lite_gridworld 15 x 3 = 45 runs x ~25 s = ~1,100 core-s, on the other
#           20 cores: ~390 s.
#   web:    baseline_webform 13 x 5 = 65 runs: 55 x ~150 s (40k steps + 5 evaluations) + 10 x ~290 s
#           (PAIRED-param, CLUTR-param) = ~11,150 core-s on 32 cores; joblib starts them teacher by
#           teacher, so the 10 long runs are in the first wave: 22 slots turn over at ~150 s and
#           ~300 s, the last 11 runs start at ~290-300 s: ~450 s.
#   liteweb: lite_webform 13 x 3 = 39 runs x ~95 s (25k steps then, 30k since 2026-12-02: ~20% more; PAIRED-/CLUTR-param ~180 s) = ~4,200
#           core-s on 28 cores: 2 waves, ~200 s; next to `measure` (4 runs, one per env, and the
#           walker's 5-episode final evaluation: ~200 s).
#   walker (since 2026-12-02: TMA's PPO at 2.5M steps, 100 envs per run; the 100k-step walker compared
#           zeros): 16 runs packed on a 16-core H200 made >= 54k env steps/s in all, so a run's 2.5M
#           steps are ~12 minutes of a 16-run wave, plus its 5-episode final evaluation. Each part is
#           several calls (rerun with the same RUNS while the machine is held):
#           walker1 = random alp_gmm covar_gmm riac adr spdl (30 runs, 75M steps; session 17 ran them with
#                     SB3's 64-64 network before the preset took TMA's (student=ppo_tma): rerun them),
#           walker2 = goal_gan setter_solver plr plr_robust accel paired_param (30 runs, ~25 min+),
#           walker3 = clutr_param paired clutr (5 runs + 10 fast failures),
#           litewalker = lite_walker, 13 x 3 = 39 runs at 2M (78M steps: ~25 min).
#   On a 64-core machine: PART=grid,web (two calls' worth) or PART=walker1,walker2 fit one call.
set -uo pipefail
# the whole script is one function, parsed before it runs: editing the file during a run cannot change it
main() {
cd "$(dirname "$0")/.."
PART=${PART:-${1:-}}
[[ -n "$PART" ]] || { echo "usage: PART=measure|liteweb|grid|track|gridworld|litegrid|web|walker1|walker2|walker3|litewalker|tma|all[,...] $0" >&2; exit 2; }
OUT=${OUT:?set OUT to the folder whose files come back}
CORES=${CORES:-$(nproc)}
PY=${PY:-python3}
RUNS=${RUNS:-/tmp/tb-runs}
SWEEP_S=${SWEEP_S:-450}
SMOKE=${SMOKE:-0}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 WANDB_SILENT=true HYDRA_FULL_ERROR=1
export SB3_LOGDIR=${SB3_LOGDIR:-/tmp/tb-sb3} MPLBACKEND=Agg
mkdir -p "$OUT" "$RUNS"
T0=$(date +%s)
TIMING="$OUT/${PART//,/_}-timing.txt"
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$TIMING" >&2; }
log "part=$PART cores=$CORES sweep_s=$SWEEP_S smoke=$SMOKE python=$($PY -c 'import sys; print(sys.version.split()[0])')"

PIDS=()
# bg CMD...: run a chain of sweeps in the background (sweeps of one chain run one after the other)
bg() { ( "$@" ) & PIDS+=($!); }

# sweep JOBS PRESET [teacher list] [extra overrides...]: a Hydra multirun, interrupted (SIGINT to
# its process group, then KILL) when the part's time is up; interrupted runs are listed as such
sweep() {
  local jobs=$1 preset=$2 teachers=$3; shift 3
  local left=$(( SWEEP_S - ($(date +%s) - T0) )); (( left > 10 )) || { log "no time left for $preset"; return; }
  # LAUNCHER: the walker's runs (100 envs in shm workers, PPO's update on the GPU) are packed, not one per core
  local args=("experiment=$preset" "${LAUNCHER:-hydra/launcher=cores}" "runs_dir=$RUNS" "hydra.sweep.dir=$RUNS/_hydra/$preset-$$")
  [[ -n "${TEACHERS:-}" ]] && teachers=$TEACHERS
  # command-line sweeps replace the preset's hydra.sweeper.params (hydra.sweeper.params.teacher=a,b
  # itself is refused: "ConfigLoader is not set" / "Sweeping over Hydra's configuration")
  [[ -n "$teachers" ]] && args+=("teacher=$teachers")
  [[ -n "${SEEDS:-}" ]] && args+=("seed=$SEEDS")
  if [[ "$SMOKE" == 1 ]]; then
    case $preset in
      tma_hexagon|baseline_parkour)  # 50-step episodes: a test-set evaluation costs seconds, not minutes
        args+=("budget.steps=${SMOKE_STEPS:-2048}" eval.every=1024 checkpoint.every=512 env.students.ppo.n_steps=512
               env.students.ppo.batch_size=128 +env.kwargs.max_episode_steps=50) ;;
      *walker*) args+=(budget.steps=1024 eval.every=100000 checkpoint.every=1024 env.students.ppo.n_steps=512
                       env.students.ppo.batch_size=128 env.n_envs=1 env.vec_env=dummy env.envs_per_worker=1 ued.buffer_size=4
                       spdl.offset=512 spdl.update_period=256) ;;
      *) args+=(budget.steps=2048 eval.every=1024 checkpoint.every=1024 ued.buffer_size=8 spdl.offset=512
                spdl.update_period=256) ;;
    esac
  fi
  args+=("$@")
  log "sweep $preset jobs=$jobs ${args[*]}"
  TEACHBENCH_JOBS=$jobs timeout --signal=INT --kill-after=20 "$left" \
    "$PY" -m experiments.running.cli "${args[@]}" >>"$RUNS/_log-$preset.txt" 2>&1
  log "sweep $preset exit $?"
}

# track NAME WORKERS [overrides...]: the simulated-student track (its own runner, same run format)
track() {
  local name=$1 workers=$2; shift 2
  local left=$(( SWEEP_S - ($(date +%s) - T0) )); (( left > 10 )) || { log "no time left for track $name"; return; }
  local args=("name=$name" "runs_dir=$RUNS" "workers=$workers" "write_episodes=false" "hydra.run.dir=$RUNS/_hydra/track-$name")
  [[ "$SMOKE" == 1 ]] && args+=(seeds=2 episodes=2000 eval_every=500 "only=[random,riac]")
  args+=("$@")
  log "track ${args[*]}"
  timeout --signal=INT --kill-after=20 "$left" "$PY" -m experiments.running.teacher_track "${args[@]}" \
    >"$RUNS/_log-track-$name.txt" 2>&1
  log "track $name exit $?"
}

measure() {
  # one run per env, each on its own core, random teacher, the presets' settings; steps/s from
  # the summaries (training wall time, without set-up) and the evaluation's share
  local g=(budget.steps=60000 eval.every=30000) w=(budget.steps=10000 eval.every=5000) k=(budget.steps=20000)
  local t=(seeds=1)
  if [[ "$SMOKE" == 1 ]]; then
    g=(budget.steps=2048 eval.every=1024) w=(budget.steps=1024 eval.every=512)
    k=(budget.steps=1024 env.students.ppo.n_steps=512 env.students.ppo.batch_size=128) t=(seeds=1 episodes=2000)
  fi
  local common=("hydra/launcher=basic" "hydra.mode=RUN" "teacher=random" "seed=0" "name=measure" "runs_dir=$RUNS"
                "hydra.run.dir=$RUNS/_hydra/measure-\${env.label}")
  ( "$PY" -m experiments.running.cli experiment=baseline_gridworld "${common[@]}" "${g[@]}" >"$RUNS/_log-m-grid.txt" 2>&1 ) &
  local a=$!
  ( "$PY" -m experiments.running.cli experiment=baseline_webform "${common[@]}" "${w[@]}" >"$RUNS/_log-m-web.txt" 2>&1 ) &
  local b=$!
  ( "$PY" -m experiments.running.cli experiment=baseline_walker "${common[@]}" "${k[@]}" >"$RUNS/_log-m-walker.txt" 2>&1 ) &
  local c=$!
  ( "$PY" -m experiments.running.teacher_track name=measure "runs_dir=$RUNS" workers=1 "${t[@]}" write_episodes=false \
      "only=[random,alp_gmm_corl2019,goal_gan]" "hydra.run.dir=$RUNS/_hydra/measure-track" >"$RUNS/_log-m-track.txt" 2>&1 ) &
  local d=$!
  wait $a $b $c $d
  "$PY" - "$RUNS/measure" <<'EOF' | tee -a "$TIMING"
import json, sys
from pathlib import Path
for s in sorted(Path(sys.argv[1]).glob("*/summary.json")):
    d = json.loads(s.read_text())
    line = f"{d['env']:>16} {d['teacher']:>18}: {d['steps']} steps, wall {d['wall_time_s']:.1f} s"
    if d.get("student") != "sim":
        line += f", set-up {d.get('setup_time_s', 0):.1f} s, {d['steps'] / d['wall_time_s']:.0f} steps/s incl. evaluations"
    print(line)
EOF
}

IFS=, read -ra PARTS <<<"$PART"
for p in "${PARTS[@]}"; do
  case $p in
    measure) bg measure ;;
    liteweb) bg sweep $(( CORES > 8 ? CORES - 4 : CORES )) lite_webform "" ;;
    grid)  # the track on 3/8 of the cores, the gridworld on the rest, each chain one sweep after the other
      tw=$(( CORES * 3 / 8 )); (( tw < 1 )) && tw=1; gw=$(( CORES - tw )); (( gw < 1 )) && gw=1
      bg eval 'track track_full "$tw" seeds=10; track lite "$tw" seeds=3 episodes=10000 eval_every=500'
      bg eval 'sweep "$gw" baseline_gridworld ""; sweep "$gw" lite_gridworld ""' ;;
    track)  # the two toy-track sweeps alone, on every core
      bg eval 'track track_full "$CORES" seeds=10; track lite "$CORES" seeds=3 episodes=10000 eval_every=500' ;;
    gridworld)  # the gridworld alone (baseline, then lite), on every core
      bg eval 'sweep "$CORES" baseline_gridworld ""; sweep "$CORES" lite_gridworld ""' ;;
    litegrid) bg sweep "$CORES" lite_gridworld "" ;;   # the gridworld's lite tier alone
    web) bg sweep "$CORES" baseline_webform "" ;;
    walker1|walker2|walker3|litewalker)  # packed on the GPU machine: each run is 100 envs in 2 shm workers + the
      # loop, PPO's update on the GPU (UPDATE_DEVICE, default cuda); $CORES runs at once (16 on 16 cores: >= 54k
      # env steps/s in all, experiments/results/walker_stumps_teachers/). A part takes more than one call: rerun it
      # with the same RUNS while the machine is held, and each run continues from its last checkpoint.
      walker_args=(device=auto "update_device=${UPDATE_DEVICE:-cuda}" "hydra.callbacks.packed.runs_per_gpu=$CORES")
      case $p in
        walker1) LAUNCHER=hydra/launcher=packed bg sweep "$CORES" baseline_walker "random,alp_gmm,covar_gmm,riac,adr,spdl" "${walker_args[@]}" ;;
        walker2) LAUNCHER=hydra/launcher=packed bg sweep "$CORES" baseline_walker "goal_gan,setter_solver,plr,plr_robust,accel,paired_param" "${walker_args[@]}" ;;
        walker3) LAUNCHER=hydra/launcher=packed bg sweep "$CORES" baseline_walker "clutr_param,paired,clutr" "${walker_args[@]}" ;;
        litewalker) LAUNCHER=hydra/launcher=packed bg sweep "$CORES" lite_walker "" "${walker_args[@]}" ;;
      esac ;;
    tma)  # issue #21 (benchmarks/device_tma_rows.sh): the hexagon tracks on 5/8 of the cores, the reduced Parkour
          # on 3/8 (12 of 32: its 12 runs), side by side; the hexagon runs at HEXAGON_STEPS (400k, see there)
      pj=$(( CORES * 3 / 8 )); (( pj < 1 )) && pj=1; hj=$(( CORES - pj )); (( hj < 1 )) && hj=1
      hx=(); [[ "$SMOKE" == 1 ]] || hx=("budget.steps=${HEXAGON_STEPS:-400000}")
      bg sweep "$hj" tma_hexagon "" "${hx[@]}"
      bg sweep "$pj" baseline_parkour "" ;;
    all)  # every sweep, one after the other (SMOKE=1 on a small machine)
      track track_full "$CORES"
      track lite "$CORES" episodes=1000
      for preset in baseline_gridworld lite_gridworld baseline_webform lite_webform baseline_walker lite_walker; do
        sweep "$CORES" "$preset" ""
      done ;;
    *) echo "unknown part $p (measure liteweb grid track gridworld litegrid web walker1 walker2 walker3 litewalker tma all)" >&2; exit 2 ;;
  esac
done
(( ${#PIDS[@]} )) && wait "${PIDS[@]}"
log "sweeps done"

NAME=${PART//,/_}
if [[ "$PART" != measure ]]; then  # (the measure runs are in the table too, as experiment "measure")
  "$PY" -m experiments.reporting.cli "$RUNS" --out "$RUNS/_leaderboard" --reps 2000 \
    --title "${TITLE:-TeachBench baseline leaderboard (issue #20), part $NAME}" >"$RUNS/_log-leaderboard.txt" 2>&1 \
    || log "leaderboard failed: $(tail -5 "$RUNS/_log-leaderboard.txt")"
  cp "$RUNS/_leaderboard/leaderboard.md" "$OUT/$NAME-leaderboard.md" 2>/dev/null
  log "leaderboard written"
fi
tar czf "$OUT/$NAME.tar.gz" -C "$RUNS" --exclude=checkpoints --exclude='*.zip' --exclude=episodes --exclude=lock \
  --exclude='.*.tmp*' --exclude=_hydra .
if (( $(stat -c %s "$OUT/$NAME.tar.gz") > 15 * 1024 * 1024 )); then  # files over 16 MiB do not come back
  split -b 15M -d "$OUT/$NAME.tar.gz" "$OUT/$NAME.tar.gz.part-" && rm "$OUT/$NAME.tar.gz"
  log "archive split: $(ls "$OUT" | grep -c "$NAME.tar.gz.part-") parts (cat $NAME.tar.gz.part-* > $NAME.tar.gz)"
fi
log "archive $(du -ch "$OUT/$NAME".tar.gz* | tail -1 | cut -f1); total $(( $(date +%s) - T0 )) s"
grep -h -E "finished|failed|Error" "$RUNS"/_log-*.txt 2>/dev/null | tail -5 >&2
}
main "$@"
exit 0
