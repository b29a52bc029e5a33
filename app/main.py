"""Entry point of ``panel serve app``: build the dashboard and serve it (nothing else here)."""

from app.dashboard import EnsembleApp

EnsembleApp().servable()
