#!/usr/bin/env bash
# Issue 18's teacher-overhead goal (>= 0.97 x plain SB3 at 1024 batched mazes on CUDA) for every
# teacher that plays the maze with one student, on a one-GPU machine, in two stages of < 9 min
# each (one device call each). Every bench_overhead.py table also prints each teacher's bridge
# share (the share of its own run spent in the teacher's callback, immune to the machine's
# run-to-run noise; benchmarks/bench_overhead.py's doc).
#
#   OUT=/some/folder STAGE=1 bash benchmarks/device_overhead.sh   # the parameter teachers
#   OUT=/some/folder STAGE=2 bash benchmarks/device_overhead.sh   # the level-replay and network teachers
#   OUT=/some/folder STAGE=3 bash benchmarks/device_overhead.sh   # the teachers in a worker process
#   OUT=/some/folder STAGE=4 bash benchmarks/device_overhead.sh   # the worker's cost per step; real CLI runs
#
# Stage 1: bench_teacher_step.py (the bridge's µs per vector step, env only, every teacher),
#          then bench_overhead.py for random, ALP-GMM, Covar-GMM, RIAC, ADR, SPDL against plain
#          SB3 and against their replay peers (the same episodes), 3 repeats of 327,680 steps.
# Stage 2: bench_teacher_step.py for ACCEL, GoalGAN and Setter-Solver; PLR, PLR⊥, ACCEL on 1,310,720 steps (their buffer replays only after ~400k steps),
#          2 repeats; GoalGAN and Setter-Solver with their training in a worker (train_lag=1),
#          2 repeats of 327,680 steps.
# Stage 3: the parameter teachers and GoalGAN in a worker process (teacher_process: true,
#          students/teacher_worker.py) beside RIAC in-process, as stage 1 (GoalGAN as stage 2).
# Stage 4: bench_teacher_step.py with an 8 ms pause per step (the student's share of a step on the
#          GPU) for the teachers in-process and in a worker, then RIAC through the real CLI at 1024
#          mazes, 1,310,720 steps, with and without teacher_process (steps / wall time of each run).
# The steps run one after another on the machine alone: the bridge share is a ratio inside
# one run, but a second job on the GPU would slow the loop and lower every share.
# SMOKE=1 runs every step at a tiny size on the CPU (tests/test_scale_benchmarks.py).
set -u
OUT=${OUT:-./device_overhead_out}
PY=${PYTHON:-python3}
STAGE=${STAGE:-1}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
       SB3_LOGDIR=/tmp/teachbench-sb3 WANDB_SILENT=true WANDB_MODE=offline PYTHONUNBUFFERED=1
start=$(date +%s)
if [ "${SMOKE:-0}" = 1 ]; then
  BASE="--env gridworld_batched --vec batched --n-envs 16 --n-steps 8 --batch-size 64 --epochs 1 --device cpu --warmup 0"
  S1="--steps 256 --repeats 1"; S2="--steps 512 --repeats 1"; S3="--steps 256 --repeats 1"
  STEP="--n-envs 16 --steps 40 --warmup 10"; T=60; PAUSE=0.001; NE=16; DEV=cpu; CLI_STEPS=512
  CLI_PPO="++student.params.n_steps=8 ++student.params.batch_size=64 ++student.params.n_epochs=1"
else
  BASE="--env gridworld_batched --vec batched --n-envs 1024 --n-steps 64 --batch-size 8192 --epochs 4 --device cuda"
  S1="--steps 327680 --repeats 3"; S2="--steps 1310720 --repeats 2"; S3="--steps 327680 --repeats 2"
  STEP="--n-envs 1024 --steps 1500"; T=1; PAUSE=0.008; NE=1024; DEV=cuda; CLI_STEPS=1310720
  CLI_PPO="++student.params.n_steps=64 ++student.params.batch_size=8192 ++student.params.n_epochs=4"
fi
{ nvidia-smi -L 2>/dev/null; echo "cores: $($PY -c 'import os; print(len(os.sched_getaffinity(0)))')"; \
  $PY -c "import torch, stable_baselines3 as s; print(torch.__version__, s.__version__)"; } > "$OUT/machine_overhead.txt" 2>&1

if [ "$STAGE" = 1 ]; then
  timeout -s INT -k 10 $((90 * T)) $PY benchmarks/bench_teacher_step.py $STEP \
      --teachers random alp_gmm covar_gmm riac adr spdl plr plr_robust accel > "$OUT/teacher_step_all.txt" 2>&1
  timeout -s INT -k 10 $((400 * T)) $PY benchmarks/bench_overhead.py $BASE $S1 --replay-peer \
      --teachers random alp_gmm covar_gmm riac adr spdl --set alp_gmm.fit_lag=1 covar_gmm.fit_lag=1 \
      --csv "$OUT/overhead_param.csv" > "$OUT/overhead_param.txt" 2>&1
  FILES="teacher_step_all overhead_param"
elif [ "$STAGE" = 3 ]; then
  P=teacher_process=true
  timeout -s INT -k 10 $((330 * T)) $PY benchmarks/bench_overhead.py $BASE $S1 --replay-peer \
      --teachers random riac riac@proc alp_gmm@proc covar_gmm@proc adr@proc spdl@proc \
      --set riac@proc.$P alp_gmm@proc.$P covar_gmm@proc.$P adr@proc.$P spdl@proc.$P \
      alp_gmm@proc.fit_lag=1 covar_gmm@proc.fit_lag=1 --csv "$OUT/overhead_process.csv" > "$OUT/overhead_process.txt" 2>&1
  timeout -s INT -k 10 $((120 * T)) $PY benchmarks/bench_overhead.py $BASE $S3 \
      --teachers random goal_gan@proc --set goal_gan@proc.$P goal_gan@proc.train_lag=1 \
      --csv "$OUT/overhead_process_gan.csv" > "$OUT/overhead_process_gan.txt" 2>&1
  FILES="overhead_process overhead_process_gan"
elif [ "$STAGE" = 4 ]; then
  P=teacher_process=true; RUNS=${RUNS:-/tmp/overhead_runs_$$}
  timeout -s INT -k 10 $((200 * T)) $PY benchmarks/bench_teacher_step.py $STEP --pause $PAUSE \
      --teachers random riac riac@proc alp_gmm alp_gmm@proc covar_gmm@proc adr adr@proc spdl@proc \
      --set alp_gmm.fit_lag=1 covar_gmm.fit_lag=1 riac@proc.$P alp_gmm@proc.$P covar_gmm@proc.$P adr@proc.$P \
      spdl@proc.$P > "$OUT/teacher_step_process.txt" 2>&1
  # two real runs through the CLI, RIAC in the run's process and in a worker (seed 0 each)
  for tp in false true; do
    timeout -s INT -k 10 $((150 * T)) $PY -m experiments.running.cli name=overhead_cli env=gridworld_batched \
        env.n_envs=$NE teacher=riac teacher_process=$tp device=$DEV budget.steps=$CLI_STEPS $CLI_PPO \
        eval.every=100000000 eval.held_out=false checkpoint.every=100000000 runs_dir=$RUNS \
        logger=none > "$OUT/cli_riac_process_$tp.log" 2>&1
  done
  $PY - "$RUNS" > "$OUT/cli_riac_process.txt" <<'PYEOF'
import json, pathlib, sys
print(f"{'run':<60}{'teacher_process':>16}{'steps':>10}{'wall s':>9}{'steps/s':>10}{'episodes':>10}{'updates':>9}")
for f in sorted((pathlib.Path(sys.argv[1]) / "overhead_cli").glob("*/summary.json")):
    s = json.loads(f.read_text())
    tp = "true" if "teacher_process: true" in (f.parent / "config.yaml").read_text() else "false"
    print(f"{f.parent.name:<60}{tp:>16}{s['steps']:>10}{s['wall_time_s']:>9.1f}{s['steps'] / s['wall_time_s']:>10.0f}"
          f"{s['episodes']:>10}{s['gradient_updates']:>9}")
PYEOF
  FILES="teacher_step_process cli_riac_process"
else
  timeout -s INT -k 10 $((60 * T)) $PY benchmarks/bench_teacher_step.py $STEP \
      --teachers random accel goal_gan setter_solver > "$OUT/teacher_step_stage2.txt" 2>&1
  timeout -s INT -k 10 $((280 * T)) $PY benchmarks/bench_overhead.py $BASE $S2 \
      --teachers random plr plr_robust accel --csv "$OUT/overhead_replay.csv" > "$OUT/overhead_replay.txt" 2>&1
  timeout -s INT -k 10 $((200 * T)) $PY benchmarks/bench_overhead.py $BASE $S3 \
      --teachers random goal_gan setter_solver --set goal_gan.train_lag=1 setter_solver.train_lag=1 \
      --csv "$OUT/overhead_networks.csv" > "$OUT/overhead_networks.txt" 2>&1
  FILES="teacher_step_stage2 overhead_replay overhead_networks"
fi
echo "device_overhead stage $STAGE: $(( $(date +%s) - start )) s"
for f in $FILES; do
  echo "== $f"; grep -v "Warning\|warnings.warn" "$OUT/$f.txt" | tail -n 24
done
