"""Real Ensemble Lab engine: the real-ensemble formulation of quantum mechanics.

Imported as ``real_ensemble_lab.engine``. No UI imports here (panel, holoviews, bokeh
never load with the engine).
"""

if __name__ == "engine":
    # `python -m engine` in a checkout imports this folder as a top-level package on its way
    # to __main__.py, which runs real_ensemble_lab.engine's command line: nothing is loaded
    # under the name `engine` (one copy of each module, one InputError class).
    __all__: list[str] = []
else:
    from ._jit import require_threadsafe_layer
    from .errors import InputError, SetupError
    from .exact import ExactEvolution, exact_psi
    from .hamiltonian import Hamiltonian
    from .params import SimParams, make_params
    from .population import BellStepper, PopulationStepper
    from .presets import build as build_preset
    from .presets import preset_info, preset_names
    from .simulate import Result, __version__, make_stepper, simulate
    from .stepper import Frame, Stepper

    __all__ = [
        "BellStepper", "ExactEvolution", "Frame", "Hamiltonian", "InputError",
        "PopulationStepper", "Result", "SetupError", "SimParams", "Stepper", "__version__",
        "build_preset", "exact_psi", "make_params", "make_stepper", "preset_info",
        "preset_names", "require_threadsafe_layer", "simulate",
    ]
