"""Real Ensemble Lab: the engine (``real_ensemble_lab.engine``), the dashboard
(``real_ensemble_lab.app``) and their data (``real_ensemble_lab.assets``).

An installed distribution holds these three as subpackages of this one, so it claims no
generic top-level name (``engine``, ``app``) in site-packages. The repository keeps them
as its top-level folders engine/, app/ and assets/ (pyproject.toml maps them here).
"""

from __future__ import annotations

from pathlib import Path

# In a checkout this folder sits beside engine/, app/ and assets/: look for the subpackages
# there too, so that the checkout's own code is imported with or without an install (a
# second work tree on PYTHONPATH gets its own engine, not the editable install's). An
# installed copy sits in site-packages, which has no pyproject.toml beside it.
_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "engine" / "__init__.py").is_file():
    __path__.append(str(_checkout))
del _checkout
