"""``python -m engine`` in a checkout (``python -m real_ensemble_lab.engine`` anywhere): the
engine's command line, run from ``real_ensemble_lab.engine`` so that each module loads once."""

import sys

from real_ensemble_lab.engine.tools.cli import main

sys.exit(main())
