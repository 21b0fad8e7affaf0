#!/bin/bash
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 WANDB_MODE=disabled
timeout -s INT 100 taskset -c 0-7 python3 benchmarks/bench_overhead.py --env gridworld_batched --vec batched \
  --n-envs 1024 --n-steps 64 --batch-size 8192 --epochs 4 --device cuda --steps 393216 --repeats 2 \
  --teachers random alp_gmm --set alp_gmm.fit_lag=1 --csv $OUT/overhead_alp.csv > $OUT/overhead_alp.txt 2>&1 &
timeout -s INT 95 taskset -c 8-15 python3 benchmarks/bench_teacher_step.py --n-envs 1024 --steps 1500 --teachers random alp_gmm > $OUT/teacher_step_alp.txt 2>&1 &
wait
grep -v "UserWarning\|warnings.warn" $OUT/overhead_alp.txt | tail -8; tail -4 $OUT/teacher_step_alp.txt
