"""TeachMyAgent's Parkour on gymnasium + Box2D (docs/references.md#tma-parkour).

- :mod:`envs.parkour.cppn`: the terrain CPPN's forward pass (TMA's released weights);
- :mod:`envs.parkour.convert_cppn`: reads TMA's TF1 checkpoint without TensorFlow.
"""
