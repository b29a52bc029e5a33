"""Real Ensemble Lab engine: the real-ensemble formulation of quantum mechanics.

Imported as ``real_ensemble_lab.engine``. No UI imports here (panel, holoviews, bokeh
never load with the engine). Its layout follows its architecture, imports going one way:

- ``core/``: the physics: Hamiltonian and presets, exact reference, numba kernels,
  steppers, ``simulate``; also the one-sentence errors and the file helpers (the
  project's one atomic writer) that everything else uses. Needs only numpy, numba,
  param and pyyaml, and imports nothing from the other two.
- ``studies/``: parameter sweeps on Dask, their Parquet tables and their analysis.
- ``tools/``: the command line (``python -m engine``), ``bench``, lessons and handouts,
  the CHSH and signalling experiments, run exports.

The names below (the public API) come from ``core``.
"""

if __name__ == "engine":
    # `python -m engine` in a checkout imports this folder as a top-level package on its way
    # to __main__.py, which runs real_ensemble_lab.engine's command line: nothing is loaded
    # under the name `engine` (one copy of each module, one InputError class).
    __all__: list[str] = []
else:
    from .core._jit import require_threadsafe_layer
    from .core.errors import InputError, SetupError
    from .core.exact import ExactEvolution, exact_psi
    from .core.hamiltonian import Hamiltonian
    from .core.params import SimParams, make_params
    from .core.population import BellStepper, PopulationStepper
    from .core.presets import build as build_preset
    from .core.presets import preset_info, preset_names
    from .core.simulate import Result, __version__, make_stepper, simulate
    from .core.stepper import Frame, Stepper

    __all__ = [
        "BellStepper", "ExactEvolution", "Frame", "Hamiltonian", "InputError",
        "PopulationStepper", "Result", "SetupError", "SimParams", "Stepper", "__version__",
        "build_preset", "exact_psi", "make_params", "make_stepper", "preset_info",
        "preset_names", "require_threadsafe_layer", "simulate",
    ]
