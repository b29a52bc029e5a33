"""Entry point of ``panel serve app``: build the dashboard and serve it (nothing else here)."""

from app.dashboard import EnsembleApp
from engine import require_threadsafe_layer

require_threadsafe_layer()  # one sentence now rather than an abort when sessions overlap
EnsembleApp().servable()
