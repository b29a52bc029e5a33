"""``python -m real_ensemble_lab``: the ``real-ensemble-lab`` command."""

import sys

from real_ensemble_lab.cli import main

sys.exit(main())
