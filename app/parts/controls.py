"""The sidebar's controls, one card per group of the spec (``engine.core.params.CONTROLS``):
the Hamiltonian (preset, its own parameters, the matrix editor), the ensemble, phase
alignment (agents engine only) and the advanced step tolerances. Cards and widgets with no
meaning in the running mode are hidden, not greyed."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import panel as pn

from real_ensemble_lab.engine import InputError, preset_info, preset_names
from real_ensemble_lab.engine.core.params import CONTROLS, param_names

from ..controller import Controller
from ..matrix import MatrixEditor
from ..widgets import help_of, preset_widget, sim_widget, with_help

REANCHOR_TIP = ("Compare from now on with the exact evolution of the state the ensemble "
                "stands for, ψ_a = √(n_a/N) e^(−iφ̄_a); use it once the phases have aligned.")
GROUPS = {"ensemble": "Ensemble", "alignment": "Phase alignment (agents engine)",
          "advanced": "Advanced"}
_CARD = dict(sizing_mode="stretch_width", header_background="#eef2ff",
             stylesheets=[":host .card-title {font-size: 17px; font-weight: 600;}"])


class SimControls(pn.viewable.Viewer):
    """One widget per simulation parameter that the page offers, grouped in cards."""

    def __init__(self, ctl: Controller, **params):
        super().__init__(**params)
        self.ctl = ctl
        self.widgets: dict[str, pn.widgets.Widget] = {
            k: sim_widget(ctl.sim, k) for k in param_names() if k != "t_end"}
        self.boxes = {k: with_help(w, help_of(k)) for k, w in self.widgets.items()}
        self.r_reset = pn.widgets.Button(label="r = −½", color="light", width=80,
                                         align="end", description="Back to quantum mechanics")
        self.r_reset.on_click(lambda e: ctl.restore_r())
        self.reanchor = pn.widgets.Button(label="Re-anchor to the ensemble",
                                          color="primary", variant="outline",
                                          description=REANCHOR_TIP,
                                          sizing_mode="stretch_width",
                                          css_classes=["reanchor"])
        self.reanchor.on_click(lambda e: ctl.reanchor())
        self.cards = {g: pn.Card(*self._group(g), title=title, collapsed=g == "advanced",
                                 css_classes=[f"rel-card-{g}"], **_CARD)
                      for g, title in GROUPS.items()}
        ctl.sim.param.watch(lambda e: self.show_for_mode(), "mode")
        self.show_for_mode()

    def _group(self, group: str) -> list[Any]:
        out = []
        for k, box in self.boxes.items():
            if CONTROLS[k].group != group:
                continue
            if k == "r":
                box = pn.Row(box, self.r_reset, sizing_mode="stretch_width")
            out.append(box)
        if group == "alignment":
            out.append(self.reanchor)
        return out

    def show_for_mode(self) -> None:
        mode = self.ctl.sim.mode
        for k, box in self.boxes.items():
            box.visible = CONTROLS[k].applies(mode)
        self.reanchor.visible = mode != "bell"
        self.cards["alignment"].title = ("Phase alignment" if mode == "agents"
                                         else "Comparison")

    def __panel__(self):
        return pn.Column(*self.cards.values(), sizing_mode="stretch_width")


class HamiltonianControls(pn.viewable.Viewer):
    """The preset, its own parameters (from the preset data) and the matrix editor.

    Moving a preset parameter rebuilds H from the preset; after hand edits of the matrix
    the change is held and the page asks first: "Discard my matrix edits" applies it,
    "Keep my matrix" puts the parameter back."""

    def __init__(self, ctl: Controller, links=None, **params):
        super().__init__(**params)
        self.ctl = ctl
        self.links = links  # the session's patches.LinkLedger (None: not served)
        self.select = pn.widgets.Select(
            label="Preset", sizing_mode="stretch_width", value=ctl.preset,
            options={preset_info(n)["title"]: n for n in preset_names()},
            description="The Hamiltonian and initial state (assets/presets.yaml)")
        self.select.param.watch(lambda e: setattr(ctl, "preset", e.new), "value")
        ctl.param.watch(lambda e: setattr(self.select, "value", e.new), "preset")
        self.values_box = pn.Column(sizing_mode="stretch_width")
        self.value_widgets: dict[str, pn.widgets.Widget] = {}
        #: Preset parameters moved after hand edits, not applied yet: key -> new value.
        self.pending: dict[str, Any] = {}
        self.ask = pn.pane.Alert("", alert_type="warning", sizing_mode="stretch_width",
                                 margin=(5, 5, 0, 5))
        self.discard = pn.widgets.Button(label="Discard my matrix edits", color="danger",
                                         css_classes=["rel-discard-edits"])
        self.keep = pn.widgets.Button(label="Keep my matrix", color="primary",
                                      variant="outline", css_classes=["rel-keep-matrix"])
        self.discard.on_click(lambda e: self.confirm(True))
        self.keep.on_click(lambda e: self.confirm(False))
        self.edited = pn.Column(self.ask, pn.Row(self.discard, self.keep), visible=False,
                                sizing_mode="stretch_width", css_classes=["rel-confirm"])
        self.matrix = MatrixEditor(on_apply=ctl.edit_matrix)
        self.matrix_card = pn.Card(self.matrix, title="Matrix editor (H and ψ₀)",
                                   collapsed=True, css_classes=["rel-card-matrix"], **_CARD)
        ctl.param.watch(lambda e: self.show_values(), ["preset", "preset_values"])
        ctl.param.watch(self._on_custom, "custom")
        self.show_values()

    def show_values(self) -> None:
        # the sliders' JavaScript links are the session's, forgotten at its end
        with (self.links.collecting() if self.links is not None else nullcontext()):
            self._show_values()

    def _show_values(self) -> None:
        specs = preset_info(self.ctl.preset)["params"]
        self._drop_pending()
        self.value_widgets = {}
        widgets = []
        for key, spec in specs.items():
            value = self.ctl.preset_values.get(key, spec["default"])
            w = preset_widget(self.ctl.preset, key, value, self._set_value)
            self.value_widgets[key] = w
            widgets.append(with_help(w, spec.get("doc")))
        self.values_box.objects = widgets
        if self.ctl.custom is None:
            self._load_matrix()

    def _load_matrix(self) -> None:
        try:
            ham = self.ctl.hamiltonian()
        except InputError:
            return  # the controller says why on the next tick; the table keeps the last
        self.matrix.load(ham.with_admixture(0.0))

    def _set_value(self, key: str, value: Any) -> None:
        if self.ctl.custom is None:
            self.ctl.preset_values = {**self.ctl.preset_values, key: value}
            return
        # hand edits would be lost: hold the change and ask first
        self.pending[key] = value
        names = ", ".join(self.pending)
        self.ask.object = (f"You edited the matrix by hand. The new {names} rebuilds H from "
                           "the preset and discards those edits.")
        self.edited.visible = True

    def confirm(self, discard: bool) -> None:
        """Answer the question: apply the held changes (discarding the hand-edited matrix)
        or put the preset parameters back and keep the matrix."""
        pending = self._drop_pending()
        if discard:
            self.ctl.preset_values = {**self.ctl.preset_values, **pending}
        else:
            self.show_values()  # fresh widgets at the values in force (a slider let go
            # at the same place again must count as a change)

    def _drop_pending(self) -> dict[str, Any]:
        pending, self.pending = self.pending, {}
        self.edited.visible = False
        return pending

    def _on_custom(self, event) -> None:
        if event.new is None:
            if self._drop_pending():  # the question no longer applies
                self.show_values()
            self._load_matrix()

    def __panel__(self):
        return pn.Card(self.select, self.values_box, self.edited, self.matrix_card,
                       title="Hamiltonian", css_classes=["rel-card-hamiltonian"], **_CARD)


def control_widgets(sim_controls: SimControls, ham: HamiltonianControls,
                    speed: pn.widgets.Widget) -> dict[str, Any]:
    """The widget of each control a lesson may highlight, by parameter name."""
    out: dict[str, Any] = dict(sim_controls.boxes)
    out["speed"] = speed
    for box in ham.values_box.objects:
        w = box[0] if isinstance(box, pn.Row) else box
        key = next((c[len("rel-pv-"):] for c in w.css_classes if c.startswith("rel-pv-")),
                   None)
        if key:
            out[key] = box
    return out


__all__ = ["HamiltonianControls", "SimControls", "control_widgets"]
