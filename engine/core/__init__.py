"""The physics core: the Hamiltonian and its presets, the exact reference, the numba
kernels, the steppers (population, agents, Bell, classroom room) and ``simulate``.

It imports only numpy, numba, param and pyyaml, and nothing from the engine's applications
(``engine.studies``, ``engine.tools``), which are built on it. Its public names are those of
``real_ensemble_lab.engine``.
"""
