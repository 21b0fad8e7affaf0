#!/usr/bin/env bash
# Claim 2's challenge profile (experiments/results/reproductions.md, claim 2): TeachMyAgent's mostly-unfeasible and
# mostly-trivial stump tracks, Random vs ALP-GMM, PPO with TMA's network at claim 2's 2.5M steps, evaluated at step 0
# and at the end on TMA's 100-task test grid x 5 episodes. Both challenges' sweeps run at once on the 16-core H200,
# each pinned to 8 cores (taskset; the packed launcher then cuts those 8 cores into one per run), so SEEDS of 4
# gives one run per core. The wheels are installed once, before either sweep starts (two pip installs into one
# --target folder at once would race). Cut after SWEEP_S seconds; rerun with the same SEEDS to resume.
#   OUT=$OUT SEEDS=0,1,2,3 SWEEP_S=540 bash benchmarks/device_profile_call.sh   # twice, back to back
# Session 21 ran SEEDS=0,1,2,3,4,5,6,7 in three calls (540 + 530 + 420 s): every Random run and ALP-GMM's seeds 0-3
# finished (experiments/results/walker_profile_tma/); ALP-GMM's seeds 4-7 stopped at 1.6M-2.5M steps. Their
# checkpoints (~1.7 MB each, 14 MB for 8) did not land: with them the working tree and the wheels (17 MiB, 12 of them
# pygame-ce, which gymnasium's box2d package imports) pass the 64 MiB a call carries. A later session reruns them
# from the start, two cores per run (RUNS_PER_GPU per half of the machine):
#   OUT=$OUT TEACHERS=alp_gmm SEEDS=4,5,6,7 RUNS_PER_GPU=4 SWEEP_S=540 bash benchmarks/device_profile_call.sh
# and, if a run is left unfinished, the same line again at once (the machine keeps /tmp/pu and /tmp/pt while held).
# Then add the finished runs to the folder's tarballs and rerun its summarise.py. Session 22 did: all eight finished
# in one call of 545 s, two cores per run. The wheels come from benchmarks/device_wheels.sh (pygame-ce slimmed: with
# the full wheel the call no longer fit in 64 MiB).
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl 2>&1 | tail -2
if [[ -d .whl ]]; then rm -rf /tmp/whl_saved && mkdir -p /tmp/whl_saved && mv .whl /tmp/whl_saved/; fi   # so that the sweep script does not install again
export PYTHONPATH=/tmp/site:$PWD
B="budget.steps=2500000 eval.every=3000000 eval.episodes_per_task=5 checkpoint.every=100000"
X="student=ppo_tma env.n_envs=100 env.vec_env=shm env.envs_per_worker=50 env.students.ppo.n_steps=200 update_device=cuda"
taskset -c 0-7 env OUT=$OUT RUNS=/tmp/pu TAG=pu EXPERIMENT=tma_unfeasible TEACHERS=${TEACHERS:-random,alp_gmm} SEEDS=$SEEDS RUNS_PER_GPU=${RUNS_PER_GPU:-8} DEVICE=auto KEEP_CHECKPOINTS=1 SWEEP_S=$SWEEP_S BASE="$B" EXTRA="$X" bash benchmarks/device_ued_sweep.sh > $OUT/pu_wrap_$$.txt 2>&1 &
taskset -c 8-15 env OUT=$OUT RUNS=/tmp/pt TAG=pt EXPERIMENT=tma_trivial TEACHERS=${TEACHERS:-random,alp_gmm} SEEDS=$SEEDS RUNS_PER_GPU=${RUNS_PER_GPU:-8} DEVICE=auto KEEP_CHECKPOINTS=1 SWEEP_S=$SWEEP_S BASE="$B" EXTRA="$X" bash benchmarks/device_ued_sweep.sh > $OUT/pt_wrap_$$.txt 2>&1 &
wait
tail -n 5 $OUT/p?_wrap_$$.txt
