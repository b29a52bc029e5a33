"""Real Ensemble Lab engine: the real-ensemble formulation of quantum mechanics.

No UI imports here (panel, holoviews, bokeh never load with ``import engine``).
"""

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
    "BellStepper", "ExactEvolution", "Frame", "Hamiltonian", "InputError", "PopulationStepper",
    "Result", "SetupError", "SimParams", "Stepper", "__version__", "build_preset", "exact_psi",
    "make_params", "make_stepper", "preset_info", "preset_names", "require_threadsafe_layer",
    "simulate",
]
