"""PPO's update alone: SB3's ``PPO.train()`` loop against the sync-free loop of
``students/split_update.py`` on the same rollout (issue 18: walker PPO on 16 cores).

Builds walker-stumps PPO as ``bench_walker_subproc.py`` does (the env config's PPO
settings, ``n_steps = rollout / n_envs``, TMA's 400-300 shared trunk by default), collects
one real rollout with a random teacher's tasks on ``--n-envs`` in-process envs, then times
``model.train()`` on that buffer ``--repeats`` times per setting. Each repeat runs every
setting once, in an order that alternates from repeat to repeat, so that the machine's
load is shared out evenly (paired timings); the printed ratios are the medians over
repeats of each setting's time over the first setting's in the same repeat, of the wall
time and of the process's CPU time (the steadier measure for a one-thread CPU update on a
shared machine; on CUDA the wall time is what counts). A setting is
``DEVICE:THREADS:LOOP`` as in ``bench_walker_subproc.py --updates`` (``cuda:1:sb3``: SB3's
loop on the GPU with minibatches gathered there, as before the sync-free loop;
``cuda:1:fast``: the sync-free loop). The weights change from one ``train()`` to the next
(as in training); the time of an update does not depend on them.

    python benchmarks/bench_ppo_update.py --settings cpu:1:sb3 cpu:1:fast --rollout 4000 --repeats 7
    python benchmarks/bench_ppo_update.py --settings cuda:1:sb3 cuda:1:fast --rollout 20000 --repeats 9  # H200
"""

from __future__ import annotations

import argparse
import statistics
import time

import _setup  # noqa: E402,F401 - the repo on sys.path, one thread per process (benchmarks/_setup.py)

import numpy as np  # noqa: E402
import torch as th  # noqa: E402
from stable_baselines3.common.callbacks import CallbackList  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.split_update import with_split_update  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.vec import env_factory  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="walker_stumps")
    parser.add_argument("--policy", default="shared_mlp", help="None: SB3's MLP; shared_mlp: TMA's 400-300")
    parser.add_argument("--rollout", type=int, default=20000, help="transitions per update")
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=None, help="None: the env config's (walker: 1000)")
    parser.add_argument("--settings", nargs="+", default=["cpu:1:sb3", "cpu:1:fast"], help="DEVICE:THREADS:LOOP")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pin_threads(1)
    name, kwargs, ppo, normalize = env_config(args.env)
    vec = DummyVecEnv([env_factory(name, kwargs, i) for i in range(args.n_envs)])
    vec.seed(0)
    if normalize:
        vec = VecNormalize(vec, norm_obs=True, norm_reward=True)
    n_steps = max(1, args.rollout // args.n_envs)
    batch = args.batch_size or int(ppo.get("batch_size", 1000))
    params = {**ppo, "n_steps": n_steps, "batch_size": min(batch, n_steps * args.n_envs)}
    policy = None if args.policy in (None, "None", "mlp") else args.policy
    model = make_student("ppo", vec, policy=policy, params=params, seed=0)
    curriculum = Curriculum(make_teacher("random", vec.get_attr("task_space", indices=[0])[0], seed=0), vec)
    curriculum.prime()
    callback = CallbackList([CurriculumCallback(curriculum)])
    model._setup_learn(n_steps * args.n_envs, callback=None)  # noqa: SLF001 - a logger and the first observation
    callback.init_callback(model)
    t0 = time.perf_counter()
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_steps)
    print(f"env={args.env} policy={args.policy} rollout={n_steps * args.n_envs} batch={params['batch_size']} "
          f"epochs={model.n_epochs} (collected in {time.perf_counter() - t0:.1f} s)")
    settings = [s.split(":") for s in args.settings]
    times: list[list[float]] = [[] for _ in settings]  # a setting given twice is an A/A control
    cpu_times: list[list[float]] = [[] for _ in settings]
    for repeat in range(args.repeats + 1):  # the first round warms up (CUDA context, kernels, allocator)
        order = list(range(len(settings)))
        if repeat % 2:
            order.reverse()
        for i in order:
            device, threads, loop = settings[i]
            with_split_update(model, device=device, threads=int(threads), loop=loop)
            np.random.seed(repeat)
            start, cpu_start = time.perf_counter(), time.process_time()
            model.train()  # ends with everything moved back to the CPU: the GPU's queue is done
            if device.startswith("cuda"):
                th.cuda.synchronize()
            if repeat:
                times[i].append(time.perf_counter() - start)
                cpu_times[i].append(time.process_time() - cpu_start)
    first = args.settings[0]
    minibatches = model.n_epochs * -(-n_steps * args.n_envs // params["batch_size"])
    for s, ts, cs in zip(args.settings, times, cpu_times):
        ratio = statistics.median(t / f for t, f in zip(ts, times[0]))
        cpu_ratio = statistics.median(t / f for t, f in zip(cs, cpu_times[0]))
        print(f"{s:>14}: median {statistics.median(ts) * 1e3:8.1f} ms per update "
              f"({statistics.median(ts) / minibatches * 1e3:6.2f} ms per minibatch), min {min(ts) * 1e3:8.1f} ms; "
              f"paired ratio to {first}: {ratio:.3f} wall, {cpu_ratio:.3f} process CPU time")
    vec.close()


if __name__ == "__main__":
    main()
