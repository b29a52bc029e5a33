"""Entry point of ``panel serve app``: build the dashboard and serve it (nothing else here)."""

import panel as pn

from app.dashboard import EnsembleApp
from engine import require_threadsafe_layer

require_threadsafe_layer()  # one sentence now rather than an abort when sessions overlap
# MathJax for the lessons' maths; name every extension the page loads (app/maths.py)
pn.extension("mathjax", "tabulator")
EnsembleApp().servable()
