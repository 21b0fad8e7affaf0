#!/usr/bin/env bash
# Issue 18's GPU-scale figures in one go, on a 2-GPU 32-core machine, in under 9 minutes.
# Writes every CSV and log to $OUT (default ./device_scale_out), then the sizing table
# (experiments/results/steps_per_second.py) as steps_per_second.md / .csv.
#
#   OUT=/some/folder bash benchmarks/device_scale.sh          # PYTHON=... to pick the interpreter
#
# Two lanes run side by side so that they do not share cores or a GPU:
#   lane A (GPU 0, cores 0-15):  bench_packed.py: N packed batched-maze PPO runs at 1024 /
#                                4096 envs (MLP, also with students/fast_rollout.py's loop; the
#                                recurrent student beside it; 16 CPU-only MLP runs), ~8.5 min
#   lane B (GPU 1, cores 16-31): bench_overhead.py at 1024 envs on CUDA (random, ALP-GMM,
#                                Covar-GMM, RIAC), profile_sb3_loop.py (short),
#                                bench_teacher_step.py (the teacher's own µs per vector step),
#                                then bench_walker_subproc.py at 1, 8, 16, 32 workers (CPU) and
#                                at 16 workers x 2 / 4 envs each (students/chunked_vec.py)
# Each step has its own time limit, so a slow one leaves the others' files.
set -u
OUT=${OUT:-./device_scale_out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 SB3_LOGDIR=/tmp/teachbench-sb3 \
       WANDB_SILENT=true WANDB_MODE=offline PYTHONUNBUFFERED=1
start=$(date +%s)
command -v taskset > /dev/null || taskset() { shift 2; "$@"; }  # no util-linux: the lanes share all cores
# The cores this process may use (not `nproc`, which obeys OMP_NUM_THREADS): 16 per lane on a
# 32-core machine, else half each.
read -r A_CORES B_CORES < <($PY -c "
import os
c = sorted(os.sched_getaffinity(0)); h = 16 if len(c) >= 32 else max(1, len(c) // 2)
print(','.join(map(str, c[:h])), ','.join(map(str, c[h:2 * h] or c[:h])))")
{ nvidia-smi -L; echo "lane A cores $A_CORES; lane B cores $B_CORES"; $PY -c "import torch, stable_baselines3 as s; print(torch.__version__, s.__version__)"; } > "$OUT/machine.txt" 2>&1

# SMOKE=1: every step at a tiny size on the CPU (checks the wiring on a machine without GPUs;
# tests/test_scale_benchmarks.py runs it).
if [ "${SMOKE:-0}" = 1 ]; then
  DEV=cpu; GPUS=0; SEC=1; NE=16; NE_BIG=32; PPO="--n-steps 8 --batch-size 64 --epochs 1"
  RUNS_A="1 2"; MIX=""; RUNS_BIG="2"; RUNS_REC="1"; RUNS_CPU="2"; RUNS_FAST="2"; SEC_CPU=1
  OVERHEAD="--n-envs 16 --n-steps 8 --batch-size 64 --epochs 1 --device cpu --steps 256 --repeats 1"
  PROFILE="--n-envs 16 --n-steps 8 --batch-size 64 --epochs 1 --rollouts 1 --device cpu"
  STEP="--n-envs 16 --steps 60 --warmup 10"
  WALKER="--workers 1 --seconds 1 --raw-seconds 0.5 --rollout 256"
  CHUNKED="--workers 1 --envs-per-worker 2 --seconds 1 --raw-seconds 0.5 --rollout 256"
else
  DEV=cuda; GPUS=1; SEC=15; NE=1024; NE_BIG=4096; PPO=""
  RUNS_A="1 4 8 16"; MIX="--mix 8:8"; RUNS_BIG="8"; RUNS_REC="1 4"; RUNS_CPU="16"; RUNS_FAST="8"; SEC_CPU=10
  OVERHEAD="--n-envs 1024 --n-steps 64 --batch-size 8192 --epochs 4 --device cuda --steps 393216 --repeats 2"
  PROFILE="--n-envs 1024 4096 --device cuda --rollouts 2"
  STEP="--n-envs 1024 --steps 1500"
  WALKER="--workers 1 8 16 32 --seconds 15 --raw-seconds 5"
  CHUNKED="--workers 16 --envs-per-worker 2 4 --seconds 15 --raw-seconds 2"
fi

lane_a() {
  export CUDA_VISIBLE_DEVICES=0
  timeout -s INT -k 10 240 taskset -c $A_CORES $PY benchmarks/bench_packed.py --gpus $GPUS --cores $A_CORES \
      --students mlp --devices $DEV --runs $RUNS_A $MIX --n-envs $NE --seconds $SEC $PPO \
      --csv "$OUT/packed_mlp_1024.csv" > "$OUT/packed_mlp_1024.txt" 2>&1
  timeout -s INT -k 10 60 taskset -c $A_CORES $PY benchmarks/bench_packed.py --gpus $GPUS --cores $A_CORES \
      --students mlp --devices $DEV --runs $RUNS_FAST --n-envs $NE --seconds $SEC $PPO --fast-rollout \
      --csv "$OUT/packed_mlp_1024_fast.csv" > "$OUT/packed_mlp_1024_fast.txt" 2>&1
  timeout -s INT -k 10 60 taskset -c $A_CORES $PY benchmarks/bench_packed.py --gpus $GPUS --cores $A_CORES \
      --students mlp --devices $DEV --runs $RUNS_BIG --n-envs $NE_BIG --seconds $SEC $PPO \
      --csv "$OUT/packed_mlp_4096.csv" > "$OUT/packed_mlp_4096.txt" 2>&1
  timeout -s INT -k 10 90 taskset -c $A_CORES $PY benchmarks/bench_packed.py --gpus $GPUS --cores $A_CORES \
      --students recurrent --devices $DEV --runs $RUNS_REC --n-envs $NE --seconds $SEC $PPO \
      --csv "$OUT/packed_recurrent_1024.csv" > "$OUT/packed_recurrent_1024.txt" 2>&1
  timeout -s INT -k 10 60 taskset -c $A_CORES $PY benchmarks/bench_packed.py --gpus 0 --cores $A_CORES \
      --students mlp --devices cpu --runs $RUNS_CPU --n-envs $NE --seconds $SEC_CPU $PPO \
      --csv "$OUT/packed_mlp_cpu16.csv" > "$OUT/packed_mlp_cpu16.txt" 2>&1
}

lane_b() {
  export CUDA_VISIBLE_DEVICES=1
  timeout -s INT -k 10 150 taskset -c $B_CORES $PY benchmarks/bench_overhead.py --env gridworld_batched --vec batched \
      $OVERHEAD --teachers random alp_gmm covar_gmm riac --set alp_gmm.fit_lag=1 covar_gmm.fit_lag=1 \
      --csv "$OUT/overhead_1024_cuda.csv" > "$OUT/overhead_1024_cuda.txt" 2>&1
  timeout -s INT -k 10 70 taskset -c $B_CORES $PY benchmarks/profile_sb3_loop.py $PROFILE \
      --csv "$OUT/profile_sb3_loop.csv" > "$OUT/profile_sb3_loop.txt" 2>&1
  timeout -s INT -k 10 50 taskset -c $B_CORES $PY benchmarks/bench_teacher_step.py $STEP \
      --teachers random alp_gmm covar_gmm riac > "$OUT/teacher_step.txt" 2>&1
  timeout -s INT -k 10 170 taskset -c $B_CORES $PY benchmarks/bench_walker_subproc.py $WALKER \
      --csv "$OUT/walker_subproc.csv" > "$OUT/walker_subproc.txt" 2>&1
  timeout -s INT -k 10 70 taskset -c $B_CORES $PY benchmarks/bench_walker_subproc.py $CHUNKED \
      --csv "$OUT/walker_chunked.csv" > "$OUT/walker_chunked.txt" 2>&1
}

lane_a & A=$!
lane_b & B=$!
wait $A $B
$PY experiments/results/steps_per_second.py "$OUT" --markdown "$OUT/steps_per_second.md" \
    --csv "$OUT/steps_per_second_table.csv" > "$OUT/steps_per_second.txt" 2>&1
echo "device_scale: $(( $(date +%s) - start )) s; files in $OUT:"; ls -la "$OUT"
for f in packed_mlp_1024 packed_mlp_1024_fast packed_mlp_4096 packed_recurrent_1024 packed_mlp_cpu16 overhead_1024_cuda profile_sb3_loop \
         teacher_step walker_subproc walker_chunked; do
  echo "== $f"; tail -n 14 "$OUT/$f.txt" 2>/dev/null
done
cat "$OUT/steps_per_second.md" 2>/dev/null
