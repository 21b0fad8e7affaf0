#!/usr/bin/env bash
# Issue 18's walker goal (PPO on 16 cores >= 15k env steps/s) with the levers built after
# profiling, each beside its peers in the same run: the raw env (1 core, and 16 processes at
# once), SB3's SubprocVecEnv, chunked workers (students/chunked_vec.py) and the shared-memory
# VecEnv (students/shm_vec.py) with PPO's update on 1 or 16 CPU threads or the GPU
# (students/split_update.py). Pinned to 16 cores. Two parts of at most ~8 minutes each (one call each):
#
#   PART=shared OUT=/some/folder bash benchmarks/device_walker_levers.sh  # TMA's 400-300 shared trunk
#   PART=more   OUT=/some/folder bash benchmarks/device_walker_levers.sh  # SB3's 64-64 MLP; rollouts on
#                                                                           # the GPU; 4 main-process threads
#   PART=best   OUT=/some/folder bash benchmarks/device_walker_levers.sh  # the best rows of PART=shared
#                                                                           # again (~3 min; after a change)
#   PART=update OUT=/some/folder bash benchmarks/device_walker_levers.sh  # PPO's update on the GPU: SB3's
#       loop against the sync-free one (students/split_update.py), alone (bench_ppo_update.py, paired
#       repeats on one 20k rollout) and in the best walker rows (cuda:1:sb3 beside cuda:1); then the
#       CUDA test of tests/test_split_update.py (~5 min)
# Each step has its own time limit and writes its CSV row by row. SMOKE=1: tiny, on any CPU.
set -u
OUT=${OUT:-./device_walker_out}
PY=${PYTHON:-python3}
PART=${PART:-shared}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
       SB3_LOGDIR=/tmp/teachbench-sb3 WANDB_SILENT=true WANDB_MODE=offline PYTHONUNBUFFERED=1
command -v taskset > /dev/null || taskset() { shift 2; "$@"; }
CORES=$($PY -c "import os; c = sorted(os.sched_getaffinity(0)); print(','.join(map(str, c[:16])))")
{ nvidia-smi -L; echo "cores $CORES"; $PY -c "import torch, stable_baselines3 as s; print(torch.__version__, s.__version__)"; } \
    > "$OUT/machine_$PART.txt" 2>&1
B="benchmarks/bench_walker_subproc.py"
W=16; SEC=12; RAW=3; CUDA=cuda:1; DEV=cuda; ROLL=20000
if [ "${SMOKE:-0}" = 1 ]; then W=1; SEC=1; RAW=0.3; CUDA=cpu:1; DEV=cpu; ROLL=512; fi
run() {  # run <time limit s> <name> <args...>
  local limit=$1 name=$2; shift 2
  [ "${SMOKE:-0}" = 1 ] && limit=300
  timeout -s INT -k 10 "$limit" taskset -c "$CORES" $PY $B --workers $W --seconds $SEC --raw-seconds $RAW \
      --rollout $ROLL "$@" --csv "$OUT/$name.csv" > "$OUT/$name.txt" 2>&1
  echo "$name: exit $? ($(( $(date +%s) - start )) s)"
}
start=$(date +%s)
if [ "$PART" = shared ]; then
  run 480 walker_levers_shared_mlp --policy shared_mlp --vecs shm subproc chunked --envs-per-worker 8 4 1 \
      --updates $CUDA cpu:16 cpu:1 --raw-parallel
elif [ "$PART" = update ]; then
  limit=240; [ "${SMOKE:-0}" = 1 ] && limit=300
  timeout -s INT -k 10 $limit taskset -c "$CORES" $PY benchmarks/bench_ppo_update.py --rollout $ROLL --repeats 9 \
      --settings $CUDA:sb3 $CUDA:fast $CUDA:sb3 $CUDA:fast > "$OUT/ppo_update.txt" 2>&1
  echo "ppo_update: exit $? ($(( $(date +%s) - start )) s)"; cat "$OUT/ppo_update.txt"
  run 150 walker_levers_update --policy shared_mlp --vecs shm --envs-per-worker 8 16 --updates $CUDA:sb3 $CUDA
  timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_split_update.py > "$OUT/test_split_update_cuda.txt" 2>&1
  echo "test_split_update: exit $? ($(tail -1 "$OUT/test_split_update_cuda.txt"))"
elif [ "$PART" = best ]; then
  run 200 walker_levers_best --policy shared_mlp --vecs shm subproc --envs-per-worker 8 16 1 --updates $CUDA cpu:16
else
  run 260 walker_levers_mlp --vecs shm subproc chunked --envs-per-worker 8 4 1 --updates $CUDA cpu:1
  run 90 walker_levers_gpu_rollout --policy shared_mlp --device $DEV --vecs shm --envs-per-worker 8 4
  run 90 walker_levers_threads4 --policy shared_mlp --threads 4 --vecs shm --envs-per-worker 8 --updates $CUDA cpu:16
  # the split update on the GPU equals SB3's CPU update to rounding (skipped without CUDA)
  timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_split_update.py > "$OUT/test_split_update_cuda.txt" 2>&1
  echo "test_split_update: exit $? ($(tail -1 "$OUT/test_split_update_cuda.txt"))"
fi
grep -hE "^env=|^raw env|^workers|^ +[0-9]+ +[0-9]+ |^best" "$OUT"/walker_levers_*.txt || true
