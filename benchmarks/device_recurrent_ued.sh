#!/usr/bin/env bash
# The recurrent maze student's DR and PAIRED iterations on one GPU (issues 18 and 20):
# where an iteration goes, and the per-step host<->device traffic of the students'
# rollout loop before / after it was cut (benchmarks/profile_recurrent_ued.py
# --step-io old|new), alone on the GPU and with 5 runs sharing it (3 cores each), as
# `hydra/launcher=packed hydra.callbacks.packed.runs_per_gpu=5` runs them.
#
#   MODE=alone  OUT=/some/folder bash benchmarks/device_recurrent_ued.sh   # ~5 min, at most ~9.5
#   MODE=packed OUT=/some/folder bash benchmarks/device_recurrent_ued.sh   # ~3 min, at most ~9
#   MODE=lstm   OUT=/some/folder bash benchmarks/device_recurrent_ued.sh   # ~2 min, at most ~4
#
# alone:  1. phases_cuda.txt: the phase table (a CUDA sync at every phase boundary, so kernel
#            time lands in the phase that launched it), DR and PAIRED;
#         2. alone_{new,old}.txt: throughput without those syncs, DR and PAIRED;
#         3. waits_{new,old}.txt: the calls that wait for the device, per phase (--count-syncs).
# packed: RUNS (5) processes at once on GPU 0, each pinned to 3 cores, without syncs,
#         new then old, DR then PAIRED; packed_<teacher>_<io>_<k>.txt, one per process.
# lstm:   PAIRED alone with the adversary's PPO update as sb3-contrib's step-wise LSTM loop and
#         as one LSTM call per design (teacher.params.adversary_lstm_update=sequence);
#         lstm_{stepwise,sequence}.txt.
# Each step has its own time limit, so a slow one leaves the others' files.
set -u
OUT=${OUT:-./device_recurrent_ued_out}
PY=${PYTHON:-python3}
MODE=${MODE:-alone}
RUNS=${RUNS:-5}
ITERS=${ITERS:-3}
DEVICE=${DEVICE:-cuda}                 # DEVICE=cpu TEACHERS=random ITERS=1 RUNS=2: a wiring check without a GPU
TEACHERS=${TEACHERS:-random paired}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
       SB3_LOGDIR=/tmp/teachbench-sb3 WANDB_SILENT=true WANDB_MODE=offline PYTHONUNBUFFERED=1
command -v taskset > /dev/null || taskset() { shift 2; "$@"; }  # no util-linux: runs share all cores
{ nvidia-smi -L; nproc --all; $PY -c "import torch; print(torch.__version__, torch.version.cuda)"; } > "$OUT/machine.txt" 2>&1
P=benchmarks/profile_recurrent_ued.py

if [ "$MODE" = alone ]; then
  timeout 150 $PY $P --device "$DEVICE" --teachers $TEACHERS --iters "$ITERS" --json "$OUT/phases_$DEVICE.json" > "$OUT/phases_$DEVICE.txt" 2>&1
  for io in new old; do
    timeout 120 $PY $P --device "$DEVICE" --teachers $TEACHERS --iters "$ITERS" --no-sync --step-io $io --json "$OUT/alone_$io.json" \
      > "$OUT/alone_$io.txt" 2>&1
  done
  for io in new old; do  # the calls that wait for the device, per phase (one iteration; timings not meaningful)
    timeout 90 $PY $P --device "$DEVICE" --teachers $TEACHERS --iters 1 --count-syncs --step-io $io \
      --json "$OUT/waits_$io.json" > "$OUT/waits_$io.txt" 2>&1
  done
elif [ "$MODE" = lstm ]; then
  for mode in stepwise sequence; do
    timeout 120 $PY $P --device "$DEVICE" --teachers paired --iters "$ITERS" --no-sync \
      --override paired:teacher.params.adversary_lstm_update=$mode --json "$OUT/lstm_$mode.json" > "$OUT/lstm_$mode.txt" 2>&1
  done
else
  for teacher in $TEACHERS; do
    for io in new old; do
      pids=()
      for k in $(seq 0 $((RUNS - 1))); do
        cores=$($PY -c "
import os
c = sorted(os.sched_getaffinity(0)); k = $k
print(','.join(map(str, c[3 * k:3 * k + 3] or c)))")  # 3 cores each; all cores where too few
        CUDA_VISIBLE_DEVICES=0 timeout 130 taskset -c "$cores" $PY $P --device "$DEVICE" --teachers $teacher \
          --iters "$ITERS" --no-sync --step-io $io --seed $k --json "$OUT/packed_${teacher}_${io}_$k.json" \
          > "$OUT/packed_${teacher}_${io}_$k.txt" 2>&1 &
        pids+=($!)
      done
      wait "${pids[@]}"
    done
  done
fi
grep -H "ms per iteration of\|device waits" "$OUT"/*.txt
