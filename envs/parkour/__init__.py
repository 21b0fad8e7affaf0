"""TeachMyAgent's Parkour on gymnasium + Box2D (docs/references.md#tma-parkour).

- :class:`~envs.parkour.parkour_env.ParkourEnv` (``TeachBench/Parkour-v0``, ``env=parkour``);
- :mod:`envs.parkour.cppn`: the terrain CPPN's forward pass (TMA's released weights);
- :mod:`envs.parkour.convert_cppn`: reads TMA's TF1 checkpoint without TensorFlow;
- :mod:`envs.parkour.terrain`, :mod:`envs.parkour.bodies`, :mod:`envs.parkour.dynamics`:
  track geometry, the three bodies, water / grasping / contacts / lidars;
- :mod:`envs.parkour.test_sets`: TMA's walking, climbing and swimming test sets.
"""
