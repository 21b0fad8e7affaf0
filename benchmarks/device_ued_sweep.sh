#!/usr/bin/env bash
# A packed UED sweep on the lent GPU machine, cut after SWEEP_S seconds and resumed by rerunning
# it (issue #20's device claims). EXPERIMENT, TEACHERS, SEEDS and BASE (the budget, evaluation and
# checkpoint overrides) pick the sweep; EXTRA adds overrides after BASE.
#
# Claim 5 of experiments/results/reproductions.md (the defaults): DR vs dcd's minimax adversary on
# dcd's 25-block maze at dcd's shape (experiment=ued_maze_paired_dcd25: 32 envs x 256 steps,
# mg_25b_dr / mg_25b_minimax), 5 seeds each, 10 runs packed on one GPU.
#
#   OUT=/some/folder RUNS=/tmp/mm25 bash benchmarks/device_ued_sweep.sh   # SWEEP_S=530 by default
#
# Claim 5b (the same two teachers at claim 3c's shape, 256 envs x 64 steps, so that the designer
# sees ~8x more levels per second; ued.max_pending=auto opens enough batches for 256 sub-envs):
#
#   OUT=/some/folder RUNS=/tmp/mm256 TAG=mm256 EXTRA="env.n_envs=256 student.params.n_steps=64 \
#     ued.max_pending=auto eval.every=1000000 eval.held_out_every=4000000 eval.n_envs=50 \
#     checkpoint.every=1000000" bash benchmarks/device_ued_sweep.sh
#
# Minimax alone (its DR runs already reached 10M in session 11, runs_slim.tar.gz of
# experiments/results/ued_dcd25_minimax_256/): add TEACHERS=minimax RUNS_PER_GPU=5 to the line above.
#
# Claim 4 (DR vs PAIRED vs the audited CLUTR, experiment=ued_maze_paired_dcd, at 256 envs x 64
# steps with enough open batches that no sub-env replays; experiments/results/ued_clutr_paired_256/):
#
#   OUT=/some/folder RUNS=/tmp/c4 TAG=c4 EXPERIMENT=ued_maze_paired_dcd TEACHERS=random,paired,clutr \
#     SEEDS=0,1,2 RUNS_PER_GPU=9 BASE="budget.steps=3000000 eval.every=500000 eval.episodes_per_task=5 \
#     eval.n_envs=50 eval.held_out_every=1000000 checkpoint.every=250000" \
#     EXTRA="env.n_envs=256 student.params.n_steps=64 ued.max_pending=auto" bash benchmarks/device_ued_sweep.sh
#
# PAIRED alone (it is the slowest, ~3.5k protagonist steps/s per run with its 3 seeds on one H200):
# TEACHERS=paired RUNS_PER_GPU=3 SWEEP_S=520 on the line above, run twice back to back (3M in two calls).
#
# Claim 2 (TMA's stump tracks, ALP-GMM vs Random, default biped): more seeds of the 2.5M-step runs of
# experiments/results/walker_stumps_alpgmm_vs_random/ (same config ids), 6 runs on one 16-core H200:
#
#   OUT=/some/folder RUNS=runs/c2 TAG=c2 EXPERIMENT=walker_stumps_alpgmm_vs_random TEACHERS=random,alp_gmm \
#     SEEDS=5,6,7 RUNS_PER_GPU=6 DEVICE=auto KEEP_CHECKPOINTS=1 BASE="budget.steps=2500000 eval.every=500000 \
#     checkpoint.every=100000" EXTRA="env.n_envs=100 env.vec_env=shm env.envs_per_worker=50 \
#     env.students.ppo.n_steps=200 update_device=cuda" bash benchmarks/device_ued_sweep.sh
#
# The walker's baseline rows (configs/experiment/baseline_walker.yaml, claim 2's protocol at 2.5M steps with 5
# evaluation episodes per test task, TMA's 400-300 PPO network since session 17). 15 packed runs make >= 57k env
# steps/s on the 16-core H200 and take ~850 s each, so one session's 30 device-minutes finish one wave of 15 (two
# calls back to back); their ~1.5 MB checkpoints cannot be carried into a later session (the tarball line says so):
#
#   OUT=/some/folder RUNS=/tmp/bw TAG=bw EXPERIMENT=baseline_walker TEACHERS=paired_param \
#     SEEDS=0,1,2,3,4 RUNS_PER_GPU=5 DEVICE=auto KEEP_CHECKPOINTS=1 SWEEP_S=545 BASE="checkpoint.every=100000" \
#     EXTRA="update_device=cuda" bash benchmarks/device_ued_sweep.sh    # rerun at once until all have finished;
#                                                                       # then lite_walker
# PAIRED-param's row and the same teacher with dcd's PPO designer update, side by side in one call (two sweeps, so that
# the row keeps the default config; their slots share the cores pairwise; session 24):
#
#   (OUT=$OUT RUNS=/tmp/bwr TAG=bwr SITE=/tmp/site_r EXPERIMENT=baseline_walker TEACHERS=paired_param SEEDS=0,1,2,3,4 \
#     RUNS_PER_GPU=5 DEVICE=auto KEEP_CHECKPOINTS=1 KEEP_EPISODES=1 SWEEP_S=540 BASE="checkpoint.every=100000" \
#     EXTRA="update_device=cuda" bash benchmarks/device_ued_sweep.sh > $OUT/bwr.txt 2>&1 &
#    OUT=$OUT RUNS=/tmp/bwp TAG=bwp SITE=/tmp/site_p EXPERIMENT=baseline_walker TEACHERS=paired_param SEEDS=0,1,2,3,4 \
#     RUNS_PER_GPU=5 DEVICE=auto KEEP_CHECKPOINTS=1 KEEP_EPISODES=1 SWEEP_S=540 BASE="checkpoint.every=100000 name=designer_ppo" \
#     EXTRA="update_device=cuda ++teacher.params.update=ppo ++teacher.params.lr=0.0003" bash benchmarks/device_ued_sweep.sh \
#     > $OUT/bwp.txt 2>&1 & wait)
#
# Claim 6 (dcd's walker, experiment=ued_walker_dcd: DR vs PLR⊥ vs ACCEL with dcd's bipedal settings, 5M steps; not
# run yet): the command is in experiments/results/reproductions.md, claim 6.
#
# (twelve teachers are done: experiments/results/walker_baseline_tma/; wheels: benchmarks/device_wheels.sh.
# PLR⊥, ACCEL and CLUTR-param took 545 + 545 + 234 s in session 23: CLUTR-param and PAIRED-param train an
# antagonist on a second copy of the envs, so a run of theirs weighs about two.)
#
# The sweep is cut after SWEEP_S seconds; run the script again (same RUNS) and every run continues
# from its last checkpoint. On a machine without internet, a folder .whl/ of wheels (python 3.12)
# is installed first; elsewhere teachbench must be installed. Writes $OUT/<TAG>_<pid>.log and
# $OUT/<TAG>_runs.tar.gz (TAG: mm25 by default; the runs without checkpoints, models or episode tables), which
# experiments/results/ued_dcd25_minimax/summarise.py reads.
set -u
# SITE: where the wheels go (two copies of this script started side by side in one call need two folders)
if [[ -d .whl ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "${SITE:-/tmp/site}" .whl/*.whl 2>&1 | tail -2
  export PYTHONPATH=${SITE:-/tmp/site}:$PWD
fi
export WANDB_MODE=disabled PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HYDRA_FULL_ERROR=1 MPLBACKEND=Agg SB3_LOGDIR=/tmp/sb3
OUT=${OUT:?set OUT to a folder for the log and the runs tarball}
RUNS=${RUNS:-/tmp/mm25}
echo "cores $(nproc --all)"; nvidia-smi -L; date
mkdir -p "$RUNS" "$OUT"
BASE=${BASE:-budget.steps=50000000 eval.every=500000 eval.held_out_every=1000000 eval.held_out_episodes=100 checkpoint.every=250000}
TEACHBENCH_JOBS=${RUNS_PER_GPU:-10} timeout --signal=INT --kill-after=30 "${SWEEP_S:-530}" python3 -m experiments.running.cli -m \
  "experiment=${EXPERIMENT:-ued_maze_paired_dcd25}" "teacher=${TEACHERS:-random,minimax}" "seed=${SEEDS:-0,1,2,3,4}" "device=${DEVICE:-cuda}" \
  hydra/launcher=packed "hydra.callbacks.packed.runs_per_gpu=${RUNS_PER_GPU:-10}" $BASE ${EXTRA:-} \
  "runs_dir=$RUNS" "hydra.sweep.dir=$RUNS/_hydra/s$$" \
  > "$OUT/${TAG:-mm25}_$$.log" 2>&1
echo "sweep exit $?"; date
grep -h "Error\|error" "$OUT/${TAG:-mm25}_$$.log" | tail -20
# models (*.zip) stay behind too: a finished recurrent run's model.zip (~5 MB) pushed 9 runs' tarball past the
# device's 16 MiB return limit (claim 4, call 2); summary.json already holds the gradient updates
# KEEP_CHECKPOINTS=1 keeps each unfinished run's latest checkpoint (small students, e.g. the walker's MLP), so
# that the next call resumes them; a finished run (summary.json) drops its checkpoints and model unless
# KEEP_FINISHED=1 (a later session extends it with resume=extend). TMA's 400-300 walker network makes a
# ~1.5 MB checkpoint: 30 runs' would fill most of the 64 MiB a call returns.
# KEEP_EPISODES=1 brings each run's episodes table back too (the task of every training episode: where a teacher
# sampled, over time; ~2,000 rows a walker run). Without it the tables stay behind, as before session 22.
EPISODES=(--exclude='*/episodes/*')
if [[ -n "${KEEP_EPISODES:-}" ]]; then EPISODES=(); fi
if [[ -n "${KEEP_CHECKPOINTS:-}" ]]; then
  (cd "$RUNS" && tar czf "$OUT/${TAG:-mm25}_runs.tar.gz" --exclude=lock "${EPISODES[@]}" --exclude=_hydra \
    $(for c in */*/checkpoints; do if [[ -f "${c%/checkpoints}/summary.json" && -z "${KEEP_FINISHED:-}" ]]; then
        echo "--exclude=$c" "--exclude=${c%/checkpoints}/model.zip"; else ls -d "$c"/step-* | head -n -1 | sed 's/^/--exclude=/'; fi; done) .)
else
  (cd "$RUNS" && tar czf "$OUT/${TAG:-mm25}_runs.tar.gz" --exclude=lock "${EPISODES[@]}" --exclude='*/checkpoints/*' \
    --exclude='*.zip' --exclude=_hydra .)
fi
# the device returns files of <= 16 MiB each (8 files, 64 MiB in all): a bigger tarball is cut into PART_MB-MiB parts
# (Setter-Solver's checkpoint alone is ~5.6 MB: 5 unfinished runs of it made a 30 MB tarball that did not come back,
# session 17); join them with `cat TAG_runs.tar.gz.part-* > TAG_runs.tar.gz`
TARBALL="$OUT/${TAG:-mm25}_runs.tar.gz"
# A later session resumes unfinished runs only by carrying this tarball into its call, next to the working tree
# (this checkout and its wheels); the call carries 64 MiB in all (the device README's limits). Say when it cannot.
if [[ -n "${KEEP_CHECKPOINTS:-}" ]]; then
  TREE=$(du -sb --exclude=.git --exclude=__pycache__ --exclude=.venv . | cut -f1); SIZE=$(stat -c %s "$TARBALL")
  echo "runs tarball $(( SIZE / 1048576 )) MiB; working tree $(( TREE / 1048576 )) MiB of the 64 MiB a call carries"
  if (( TREE + SIZE > 64 * 1048576 )); then
    echo "too large to carry into a later session's call: finish these runs in this session (rerun while the machine is held)"
  fi
fi
if [[ $(stat -c %s "$TARBALL") -gt $(( ${PART_MB:-15} * 1048576 )) ]]; then
  split -b "${PART_MB:-15}M" -a 1 "$TARBALL" "$TARBALL.part-" && rm "$TARBALL"
  echo "tarball cut into $(ls "$TARBALL".part-* | wc -l) parts of <= ${PART_MB:-15} MiB: cat $(basename "$TARBALL").part-* > $(basename "$TARBALL")"
fi
for d in "$RUNS"/*/*/; do echo "$d $(ls "$d/checkpoints" 2>/dev/null | tail -1)"; done
