"""The matrix editor: a Tabulator of H and psi0 with live validation.

Cells hold complex numbers as text ("0.8", "0.3-0.2i"). Every edit is parsed and checked
with ``engine.core.hamiltonian.validate``; a bad matrix shows its sentence beside the table and
nothing reaches the running simulation. A valid edit of H applies live; an edit of psi0
needs a new ensemble (restart).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import panel as pn
import param

from real_ensemble_lab.engine import Hamiltonian, InputError
from real_ensemble_lab.engine.core.hamiltonian import validate

#: Largest matrix the editor shows (a lattice of 64 sites is edited through its preset).
MAX_EDIT_P = 12
PSI = "psi0"

_BARE_J = re.compile(r"(?<![\d.eE])j")

#: Tabulator options. Its default Tab binding (navNext) moves to the next editable cell and
#: swallows the key even on the last one, so keyboard focus could never leave the table.
#: Without it Tab is the browser's own: it commits the edit and moves focus on, cell by
#: cell in reading order (each focused cell opens its editor), then out of the table.
TABLE_CONFIG = {"columnDefaults": {"headerSort": False},
                "keybindings": {"navNext": False, "navPrev": False}}


def fmt(z: complex) -> str:
    """A complex number as short text: 0.8, -0.3i, 0.8-0.3i."""
    z = complex(z)
    re_, im = float(np.round(z.real, 6)) + 0.0, float(np.round(z.imag, 6)) + 0.0
    if im == 0:
        return f"{re_:.6g}"
    if re_ == 0:
        return f"{im:.6g}i"
    return f"{re_:.6g}{im:+.6g}i"


def parse_complex(text: object, where: str) -> complex:
    """Parse a cell ("0.8-0.3i", "2j", "i", 1.5) or raise one InputError sentence."""
    if isinstance(text, int | float | complex) and not isinstance(text, bool):
        return complex(text)
    s = str(text).strip().replace(" ", "").replace("I", "i").replace("i", "j")
    if not s:
        raise InputError(f"{where} is empty; write a number such as 0.5 or 0.3-0.2i.")
    s = _BARE_J.sub("1j", s)
    try:
        return complex(s)
    except ValueError:
        raise InputError(f"{where} = {str(text)!r} is not a number; write it like "
                         f"0.5 or 0.3-0.2i.") from None


def table_from(ham: Hamiltonian) -> pd.DataFrame:
    """The editor's table: a label column, one column per column of H, and psi0."""
    P = ham.P
    data: dict[str, list[str]] = {"a": [str(s) for s in ham.labels]}
    for b in range(P):
        data[str(b)] = [fmt(ham.H[a, b]) for a in range(P)]
    data[PSI] = [fmt(z) for z in ham.psi0]
    return pd.DataFrame(data)


def parse_table(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """H and psi0 from the table, validated; raises InputError naming the bad entry."""
    P = len(df)
    H = np.empty((P, P), dtype=complex)
    for a in range(P):
        for b in range(P):
            H[a, b] = parse_complex(df[str(b)].iloc[a], f"H[{a}][{b}]")
    psi = np.array([parse_complex(df[PSI].iloc[a], f"psi0[{a}]") for a in range(P)])
    validate(H, psi)  # the engine's sentence names the entry at fault
    return H, psi


class MatrixEditor(pn.viewable.Viewer):
    """Tabulator editor for a custom H and psi0; calls ``on_apply(kind, H, psi0)``.

    ``kind`` is ``"live"`` when only H changed (the simulation carries on with the new H)
    and ``"restart"`` when psi0 changed (a new ensemble is needed).
    """

    mirror = param.Boolean(default=True, doc="Copy each edit of H[a][b] to H[b][a] as its "
                           "complex conjugate, so H stays Hermitian.")
    error = param.String(default="", doc="The latest validation sentence ('' when valid).")

    def __init__(self, on_apply: Callable[[str, np.ndarray, np.ndarray], None], **params):
        super().__init__(**params)
        self.on_apply = on_apply
        self._applied: tuple[np.ndarray, np.ndarray] | None = None
        self.table = pn.widgets.Tabulator(
            pd.DataFrame({"a": []}), show_index=False, editors={"a": None},
            layout="fit_data_stretch", sizing_mode="stretch_width", max_height=320,
            theme="simple", configuration=TABLE_CONFIG,
            stylesheets=[":host .tabulator {font-size: 14px;}"],
        )
        self.table.on_edit(self._on_edit)
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False,
                                   sizing_mode="stretch_width", css_classes=["matrix-error"])
        self.note = pn.pane.Markdown("", visible=False)
        self.mirror_box = pn.widgets.Checkbox.from_param(
            self.param.mirror, label="Keep H Hermitian (mirror each edit)",
            css_classes=["matrix-mirror"])

    def load(self, ham: Hamiltonian) -> None:
        """Show ``ham`` in the table (after a preset change or a restart)."""
        self.error = ""
        self.alert.visible = False
        if ham.P > MAX_EDIT_P:
            self.table.visible = False
            self.note.object = (f"This Hamiltonian has {ham.P} levels; the editor shows "
                                f"matrices up to {MAX_EDIT_P} × {MAX_EDIT_P}. Change it "
                                f"through the preset's parameters.")
            self.note.visible = True
            self._applied = None
            return
        self.note.visible = False
        df = table_from(ham)
        self.table.titles = {"a": "a", PSI: "ψ₀", **{str(b): f"H·{b}" for b in range(ham.P)}}
        self.table.value = df
        self.table.visible = True
        self._applied = parse_table(df)

    def _on_edit(self, event) -> None:
        col, row = str(event.column), int(event.row)
        if self.mirror and col.isdigit() and int(col) != row:
            try:
                z = parse_complex(event.value, f"H[{row}][{col}]")
            except InputError:
                pass  # the check below reports it
            else:
                self.table.patch({str(row): [(int(col), fmt(z.conjugate()))]})
        self.check_and_apply()

    def check_and_apply(self) -> None:
        """Validate the table; apply it (live or restart) if valid, else show the sentence."""
        try:
            H, psi = parse_table(self.table.value)
        except InputError as err:
            self.error = str(err)
            self.alert.object = f"**Not applied:** {err} The simulation carries on unchanged."
            self.alert.visible = True
            return
        self.error = ""
        self.alert.visible = False
        old = self._applied
        self._applied = (H, psi)
        if old is not None and np.array_equal(psi, old[1]):
            if not np.array_equal(H, old[0]):
                self.on_apply("live", H, psi)
        else:
            self.on_apply("restart", H, psi)

    def __panel__(self):
        return pn.Column(self.mirror_box, self.table, self.alert, self.note,
                         sizing_mode="stretch_width")
