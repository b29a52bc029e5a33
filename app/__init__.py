"""Real Ensemble Lab dashboard (``panel serve app``).

``app.dashboard.EnsembleApp`` is the Viewer; ``app.runner.Runner`` steps one ensemble per
browser session in a background thread; ``app.views`` holds the Bokeh plots.
Importing ``app`` loads nothing heavy, so ``panel serve`` (which runs this file) stays quick.
"""
