"""A small page for tests/test_editor_maths_browser.py: lesson 1's text typeset by
app/maths.py, and the matrix editor between two buttons (served with ``panel serve``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root

import panel as pn  # noqa: E402

from real_ensemble_lab.app import maths  # noqa: E402
from real_ensemble_lab.app.matrix import MatrixEditor  # noqa: E402
from real_ensemble_lab.engine import build_preset  # noqa: E402
from real_ensemble_lab.engine.tools import lessons  # noqa: E402

pn.extension("tabulator")  # as the dashboard (app/main.py)
editor = MatrixEditor(on_apply=lambda kind, H, psi: None)
editor.load(build_preset("two_level"))
pn.Column(
    maths.math_markdown(lessons.get("frequencies").markdown(), css_classes=["lesson-text"]),
    pn.widgets.Button(name="Before"),
    editor,
    pn.widgets.Button(name="After"),
).servable()
