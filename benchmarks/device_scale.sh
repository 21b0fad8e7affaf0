#!/usr/bin/env bash
# Issue 18's GPU-scale figures in one go, on a 2-GPU 32-core machine, in under 9 minutes.
# Writes every CSV and log to $OUT (default ./device_scale_out), then the sizing table
# (experiments/results/steps_per_second.py) as steps_per_second.md / .csv.
#
#   OUT=/some/folder bash benchmarks/device_scale.sh          # PYTHON=... to pick the interpreter
#
# Two lanes run side by side so that they do not share cores or a GPU:
#   lane A (GPU 0, cores 0-15):  bench_packed.py: N packed batched-maze PPO runs at 1024 /
#                                4096 envs (MLP; the recurrent student beside it), ~6 min
#   lane B (GPU 1, cores 16-31): bench_overhead.py at 1024 envs on CUDA (random, ALP-GMM,
#                                Covar-GMM, RIAC), profile_sb3_loop.py (short), then
#                                bench_walker_subproc.py at 1, 8, 16, 32 workers (CPU)
# Each step has its own time limit, so a slow one leaves the others' files.
set -u
OUT=${OUT:-./device_scale_out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 SB3_LOGDIR=/tmp/teachbench-sb3 \
       WANDB_SILENT=true WANDB_MODE=offline PYTHONUNBUFFERED=1
start=$(date +%s)
ncores=$(nproc)
if [ "$ncores" -ge 32 ]; then A_CORES=0-15; B_CORES=16-31; else A_CORES=0-$((ncores / 2 - 1)); B_CORES=$((ncores / 2))-$((ncores - 1)); fi
{ nvidia-smi -L; nproc; $PY -c "import torch, stable_baselines3 as s; print(torch.__version__, s.__version__)"; } > "$OUT/machine.txt" 2>&1

lane_a() {
  export CUDA_VISIBLE_DEVICES=0
  timeout -s INT -k 10 300 taskset -c $A_CORES $PY benchmarks/bench_packed.py --gpus 1 --cores $A_CORES --students mlp \
      --devices cuda --runs 1 4 8 16 --mix 8:8 --n-envs 1024 --seconds 15 --csv "$OUT/packed_mlp_1024.csv" \
      > "$OUT/packed_mlp_1024.txt" 2>&1
  timeout -s INT -k 10 110 taskset -c $A_CORES $PY benchmarks/bench_packed.py --gpus 1 --cores $A_CORES --students mlp \
      --devices cuda --runs 4 8 --n-envs 4096 --seconds 15 --csv "$OUT/packed_mlp_4096.csv" \
      > "$OUT/packed_mlp_4096.txt" 2>&1
  timeout -s INT -k 10 100 taskset -c $A_CORES $PY benchmarks/bench_packed.py --gpus 1 --cores $A_CORES --students recurrent \
      --devices cuda --runs 1 4 --n-envs 1024 --seconds 15 --csv "$OUT/packed_recurrent_1024.csv" \
      > "$OUT/packed_recurrent_1024.txt" 2>&1
}

lane_b() {
  export CUDA_VISIBLE_DEVICES=1
  timeout -s INT -k 10 170 taskset -c $B_CORES $PY benchmarks/bench_overhead.py --env gridworld_batched --vec batched \
      --n-envs 1024 --n-steps 64 --batch-size 8192 --epochs 4 --device cuda --steps 524288 --repeats 2 \
      --teachers random alp_gmm covar_gmm riac --set alp_gmm.fit_lag=1 covar_gmm.fit_lag=1 \
      --csv "$OUT/overhead_1024_cuda.csv" > "$OUT/overhead_1024_cuda.txt" 2>&1
  timeout -s INT -k 10 80 taskset -c $B_CORES $PY benchmarks/profile_sb3_loop.py --n-envs 1024 4096 --device cuda --rollouts 2 \
      --csv "$OUT/profile_sb3_loop.csv" > "$OUT/profile_sb3_loop.txt" 2>&1
  timeout -s INT -k 10 230 taskset -c $B_CORES $PY benchmarks/bench_walker_subproc.py --workers 1 8 16 32 --seconds 20 \
      --raw-seconds 5 --csv "$OUT/walker_subproc.csv" > "$OUT/walker_subproc.txt" 2>&1
}

lane_a & A=$!
lane_b & B=$!
wait $A $B
$PY experiments/results/steps_per_second.py "$OUT" --markdown "$OUT/steps_per_second.md" \
    --csv "$OUT/steps_per_second_table.csv" > "$OUT/steps_per_second.txt" 2>&1
echo "device_scale: $(( $(date +%s) - start )) s; files in $OUT:"; ls -la "$OUT"
for f in packed_mlp_1024 packed_mlp_4096 packed_recurrent_1024 overhead_1024_cuda profile_sb3_loop walker_subproc; do
  echo "== $f"; tail -n 14 "$OUT/$f.txt" 2>/dev/null
done
cat "$OUT/steps_per_second.md" 2>/dev/null
