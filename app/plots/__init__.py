"""The live plots, registered by name. Each entry says what the plot shows in one sentence
and in which engine modes (and for which Hamiltonians) it has a meaning; the dashboard shows
a plot only there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from real_ensemble_lab.engine.core.classical import is_lattice

from .base import View
from .classical import ClassicalView
from .composite import JointGridView, MarginalsView
from .ensemble import HistogramView, PhaseView
from .series import DeviationView, PopulationsView, TrackedView


@dataclass(frozen=True)
class PlotSpec:
    caption: str
    modes: tuple[str, ...] = ()  # empty: every mode
    applies: Callable[[Any], bool] = lambda ham: True

    def shown(self, mode: str, ham: Any) -> bool:
        return (not self.modes or mode in self.modes) and self.applies(ham)


PLOTS: dict[str, PlotSpec] = {
    "hist": PlotSpec("Bars: the fraction of systems with each beable value a. Black marks: "
                     "quantum mechanics' |ψₐ(t)|². A red × marks an empty class, which "
                     "can never refill."),
    "phase": PlotSpec("Each dot is a system's phase φ on the ring of its beable value; the "
                      "diamonds are the exact phases −arg ψₐ. Aligned classes sit on "
                      "their diamond.", modes=("agents", "population")),
    "order": PlotSpec("How well each class's phases agree: 1 when all aligned, near 0 "
                      "when random.", modes=("agents",)),
    "dev": PlotSpec("D(t) = ½ Σ|nₐ/N − |ψₐ|²|: how far the ensemble is from quantum "
                    "mechanics. Inside the blue band (1/√N) the difference is what any "
                    "finite sample shows.",
                    ),
    "pop": PlotSpec("Solid lines: the ensemble's fractions nₐ/N over time; dashed: "
                    "quantum mechanics' |ψₐ(t)|², on the same time grid."),
    "tracked": PlotSpec("The beable value of a few tagged systems: each jump is a copy of "
                        "another system's value.", modes=("agents",)),
    "marg": PlotSpec("Each part's own statistics (marginals) against quantum mechanics.",
                     applies=MarginalsView.applies),
    "joint": PlotSpec("The joint distribution of two parts: the ensemble (colour) against "
                      "quantum mechanics.", applies=JointGridView.applies),
    "classical": PlotSpec("Mean position: Newton, the classical (Liouville) ensemble, "
                          "quantum mechanics and this ensemble.",
                          applies=lambda ham: ham is not None and is_lattice(ham)),
}


def build_views(P: int, labels: tuple[str, ...], N: int, mode: str, ham: Any,
                tracked: int, t_end: float) -> dict[str, View]:
    """The views that mean something for this ensemble (see :data:`PLOTS`)."""
    views: dict[str, View] = {"hist": HistogramView(P, labels)}
    if PLOTS["phase"].shown(mode, ham):
        views["phase"] = PhaseView(P, individual=mode == "agents")
    views["dev"] = DeviationView(N)
    views["pop"] = PopulationsView(P, labels)
    if PLOTS["tracked"].shown(mode, ham):
        views["tracked"] = TrackedView(P, max(int(tracked), 1))
    parts = list(ham.extra.get("parts") or ()) if ham is not None else []
    if PLOTS["marg"].shown(mode, ham):
        views["marg"] = MarginalsView(parts)
    if PLOTS["joint"].shown(mode, ham):
        views["joint"] = JointGridView(parts)
    if PLOTS["classical"].shown(mode, ham):
        views["classical"] = ClassicalView(ham, t_end)
    return views


__all__ = ["PLOTS", "PlotSpec", "View", "build_views", "HistogramView", "PhaseView",
           "PopulationsView", "DeviationView", "TrackedView", "MarginalsView",
           "JointGridView", "ClassicalView"]
